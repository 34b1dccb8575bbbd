package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/shadowmap/shadowmap/agent/privdir"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// Command is `shadowmap-agent service install|uninstall|start|stop|status`:
// one command with subcommands, so that everything IT scripts about the
// service sits under one word and the top level stays for people at the
// laptop (run, status). stateDir is the agent's default state directory.
func Command(stdout, stderr io.Writer, stateDir string) cli.Command {
	c := &commands{
		stdout: stdout, stderr: stderr, stateDir: stateDir, goos: runtime.GOOS,
		isAdmin: isAdmin, executable: currentExecutable,
		installManager: newManager, controlManager: controlManager,
		afterInstall: setRecoveryActions,
	}
	return cli.Command{
		Usage:   "service install|uninstall|start|stop|status [flags]",
		Summary: "install the agent as a system service (systemd, launchd, Windows) and control it",
		Run:     c.run,
	}
}

// commands holds the service command's dependencies on the machine, so
// tests can give it a fake service manager and real temporary files.
type commands struct {
	stdout, stderr io.Writer
	stateDir       string
	goos           string
	isAdmin        func() bool
	executable     func() (string, error)
	installManager func(Definition) (manager, error)
	controlManager func() (manager, error)
	afterInstall   func() error
}

const serviceUsage = `usage: shadowmap-agent service <subcommand> [flags]

  install [--config PATH] [--state-dir DIR]   write the service definition for this binary (replaces an existing one)
  uninstall [--purge]                         stop and remove the service; --purge also deletes config, spool and state
  start                                       start the service
  stop                                        stop the service
  status                                      print running, stopped, failed, not-installed or unsupported
`

func (c *commands) run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, serviceUsage)
		return errors.New("service: give a subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "install":
		return c.install(rest)
	case "uninstall":
		return c.uninstall(rest)
	case "start", "stop":
		return c.startStop(sub, rest)
	case "status":
		return c.status(rest)
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, serviceUsage)
		return nil
	}
	fmt.Fprint(c.stderr, serviceUsage)
	return fmt.Errorf("service: unknown subcommand %q", sub)
}

func (c *commands) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("service "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

func (c *commands) needAdmin(sub string) error {
	if c.isAdmin() {
		return nil
	}
	return fmt.Errorf("service %s changes the system's services and needs administrator rights: %s", sub, adminHint)
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func (c *commands) install(args []string) error {
	fs := c.flags("install")
	configPath := fs.String("config", DefaultConfigPath(), "the agent's configuration file")
	stateDir := fs.String("state-dir", c.stateDir, "the agent's spool, enrollment and status; the only place the service writes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := c.needAdmin("install"); err != nil {
		return err
	}
	exe, err := c.executable()
	if err != nil {
		return err
	}
	d := Definition{Executable: exe, ConfigPath: *configPath, StateDir: *stateDir}
	if err := d.Validate(c.goos); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	m, err := c.installManager(d)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	state, err := stateOf(m)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if state != StateNotInstalled {
		// Installing again (a package upgrade, an MDM script run twice)
		// replaces the definition and keeps a running agent running.
		if err := m.Stop(); err != nil && state == StateRunning {
			return fmt.Errorf("service install: stop the installed service: %w", err)
		}
		if err := m.Uninstall(); err != nil {
			return fmt.Errorf("service install: remove the old definition: %w", err)
		}
		fmt.Fprintf(c.stdout, "removed the previous %s service definition\n", Name)
	}
	if err := privdir.MkdirAll(d.StateDir); err != nil {
		return fmt.Errorf("service install: create the state directory: %w", err)
	}
	if err := m.Install(); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if err := c.afterInstall(); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	fmt.Fprintf(c.stdout, "installed the %s service (%s): %s %s\n", Name, m.Platform(), d.Executable, strings.Join(d.Arguments(), " "))
	if _, err := os.Stat(d.ConfigPath); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(c.stdout, "note: %s does not exist yet; the agent waits for it and checks again every minute\n", d.ConfigPath)
	}
	if state == StateRunning {
		if err := m.Start(); err != nil {
			return fmt.Errorf("service install: start the agent again: %w", err)
		}
		fmt.Fprintf(c.stdout, "started %s again\n", Name)
		return nil
	}
	fmt.Fprintf(c.stdout, "start it with: shadowmap-agent service start\n")
	return nil
}

func (c *commands) uninstall(args []string) error {
	fs := c.flags("uninstall")
	purge := fs.Bool("purge", false, "also delete the configuration file, the state directory (spool, enrollment) and logs")
	configPath := fs.String("config", DefaultConfigPath(), "the configuration file --purge deletes")
	stateDir := fs.String("state-dir", c.stateDir, "the state directory --purge deletes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := c.needAdmin("uninstall"); err != nil {
		return err
	}
	m, err := c.controlManager()
	if err != nil {
		return fmt.Errorf("service uninstall: %w", err)
	}
	state, err := stateOf(m)
	if err != nil {
		return fmt.Errorf("service uninstall: %w", err)
	}
	if state == StateNotInstalled {
		fmt.Fprintf(c.stdout, "%s is not installed\n", Name)
	} else {
		if err := m.Stop(); err != nil && state == StateRunning {
			return fmt.Errorf("service uninstall: stop: %w", err)
		}
		if err := m.Uninstall(); err != nil {
			return fmt.Errorf("service uninstall: %w", err)
		}
		fmt.Fprintf(c.stdout, "uninstalled the %s service\n", Name)
	}
	if !*purge {
		fmt.Fprintf(c.stdout, "kept %s and %s (use --purge to delete them)\n", *configPath, *stateDir)
		return nil
	}
	return c.purge(*configPath, *stateDir)
}

// purge deletes what the agent leaves on the machine. The state directory
// is deleted recursively, so it must look like the agent's own.
func (c *commands) purge(configPath, stateDir string) error {
	if !strings.Contains(filepath.Base(stateDir), "shadowmap") {
		return fmt.Errorf("service uninstall --purge: %q does not look like the agent's state directory (its name has no \"shadowmap\"); delete it by hand", stateDir)
	}
	var errs []error
	remove := func(path string) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		} else if err == nil {
			fmt.Fprintf(c.stdout, "deleted %s\n", path)
		}
	}
	remove(configPath)
	if dir := filepath.Dir(configPath); strings.Contains(filepath.Base(dir), "shadowmap") && dir != filepath.Clean(stateDir) {
		os.Remove(dir) // only when empty: it may hold the enroll secret or other files IT put there
	}
	if _, err := os.Stat(stateDir); err == nil {
		if err := os.RemoveAll(stateDir); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(c.stdout, "deleted %s\n", stateDir)
		}
	}
	if c.goos == "darwin" {
		remove(LaunchdLogPath)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("service uninstall --purge: %w", err)
	}
	return nil
}

func (c *commands) startStop(sub string, args []string) error {
	fs := c.flags(sub)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := c.needAdmin(sub); err != nil {
		return err
	}
	m, err := c.controlManager()
	if err != nil {
		return fmt.Errorf("service %s: %w", sub, err)
	}
	state, err := stateOf(m)
	if err != nil {
		return fmt.Errorf("service %s: %w", sub, err)
	}
	switch {
	case state == StateNotInstalled:
		return fmt.Errorf("service %s: %s is not installed (run: shadowmap-agent service install)", sub, Name)
	case sub == "start" && state == StateRunning:
		fmt.Fprintf(c.stdout, "%s is already running\n", Name)
		return nil
	case sub == "stop" && state != StateRunning:
		fmt.Fprintf(c.stdout, "%s is not running (%s)\n", Name, state)
		return nil
	}
	act, done := m.Start, "started"
	if sub == "stop" {
		act, done = m.Stop, "stopped"
	}
	if err := act(); err != nil {
		return fmt.Errorf("service %s: %w", sub, err)
	}
	fmt.Fprintf(c.stdout, "%s %s\n", done, Name)
	return nil
}

// status prints the state as one word on stdout, for MDM scripts
// (a Jamf extension attribute, an Intune detection script) to read.
func (c *commands) status(args []string) error {
	fs := c.flags("status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	m, err := c.controlManager()
	if errors.Is(err, ErrUnsupported) {
		fmt.Fprintln(c.stdout, StateUnsupported)
		fmt.Fprintln(c.stderr, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("service status: %w", err)
	}
	state, err := stateOf(m)
	if err != nil {
		return fmt.Errorf("service status: %w", err)
	}
	fmt.Fprintln(c.stdout, state)
	return nil
}
