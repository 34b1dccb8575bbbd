package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	kservice "github.com/kardianos/service"

	"github.com/shadowmap/shadowmap/agent/config"
)

// Name is the service's name in every service manager: the systemd unit
// shadowmap-agent.service, the launchd label and plist
// /Library/LaunchDaemons/shadowmap-agent.plist, and the Windows service.
const Name = "shadowmap-agent"

const (
	displayName = "shadowmap agent"
	description = "shadowmap endpoint agent: sees which SaaS apps this device uses (DNS and TLS server names) and reports only catalog matches to the company's collector"

	// StateDirEnv is how the service definition tells `shadowmap-agent run`
	// where its state lives: the variable the config package reads.
	StateDirEnv = config.StateDirEnv

	// LaunchdLogPath is where launchd writes the agent's stdout and stderr
	// on macOS.
	LaunchdLogPath = "/Library/Logs/shadowmap-agent.log"
)

// Definition is what a service definition is made of: which binary runs,
// with which configuration file, and where it may write.
type Definition struct {
	Executable string // absolute path of the shadowmap-agent binary
	ConfigPath string // the agent's configuration file, given to `run --config`
	StateDir   string // spool, enrollment and status; the only place the service writes
}

// Arguments are the command-line arguments the service manager starts the
// agent with.
func (d Definition) Arguments() []string {
	return []string{"run", "--config", d.ConfigPath}
}

// DefaultConfigPath is where the agent's configuration file lives on this
// operating system (MDM profiles and installer packages write it there):
// the config package's answer, so the service and the agent never differ.
func DefaultConfigPath() string {
	return config.DefaultConfigPath(os.Getenv)
}

// currentExecutable is the running binary's path with symbolic links
// resolved, so the service keeps pointing at the real file when a package
// manager's symlink moves.
func currentExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the agent's own executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return exe, nil
}

// Validate reports why d cannot be written into a service definition for
// goos. Paths end up inside unit files, plists and command lines, so only
// plain absolute paths are accepted.
func (d Definition) Validate(goos string) error {
	var errs []error
	for _, p := range []struct{ what, path string }{
		{"executable", d.Executable},
		{"config path", d.ConfigPath},
		{"state directory", d.StateDir},
	} {
		if err := checkPath(goos, p.path); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", p.what, p.path, err))
		}
	}
	if goos == "linux" {
		// The unit sets ProtectHome=yes: a binary in a home directory
		// could not even be executed by the service.
		for _, home := range []string{"/home/", "/root/", "/run/user/"} {
			if strings.HasPrefix(d.Executable, home) {
				errs = append(errs, fmt.Errorf("executable %q is in a home directory, which the service cannot see; copy it to /usr/local/bin first", d.Executable))
			}
		}
	}
	return errors.Join(errs...)
}

func checkPath(goos, p string) error {
	switch {
	case p == "":
		return errors.New("is empty")
	case !isAbs(goos, p):
		return errors.New("is not absolute")
	case strings.ContainsAny(p, "\"\\{}") && goos != "windows",
		strings.ContainsAny(p, "\"{}") && goos == "windows":
		return errors.New(`contains a quote, backslash or brace`)
	case goos == "linux" && strings.ContainsAny(p, " \t"):
		return errors.New("contains whitespace, which the systemd unit does not support")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

func isAbs(goos, p string) bool {
	if goos != "windows" {
		return strings.HasPrefix(p, "/")
	}
	// C:\dir or \\server\share
	return len(p) >= 3 && p[1] == ':' && p[2] == '\\' || strings.HasPrefix(p, `\\`)
}

// kardianosConfig is d as kardianos/service wants it on goos. The systemd
// unit or launchd plist is rendered here in full and handed over as a
// "template" without template actions, which kardianos' renderer copies
// unchanged.
func (d Definition) kardianosConfig(goos string) (*kservice.Config, error) {
	if err := d.Validate(goos); err != nil {
		return nil, err
	}
	options := kservice.KeyValue{
		"KeepAlive": true,
		"RunAtLoad": true,
		// Windows: start at boot, a little after the network stack,
		// and restart on failure. The full recovery schedule (10 s,
		// then 60 s) is set after install, see setRecoveryActions.
		"StartType":              "automatic",
		"DelayedAutoStart":       true,
		"OnFailure":              "restart",
		"OnFailureDelayDuration": "10s",
		"OnFailureResetPeriod":   recoveryResetSeconds,
	}
	switch goos {
	case "linux":
		unit, err := SystemdUnit(d)
		if err != nil {
			return nil, err
		}
		options["SystemdScript"] = unit
	case "darwin":
		plist, err := LaunchdPlist(d)
		if err != nil {
			return nil, err
		}
		options["LaunchdConfig"] = plist
	}
	return &kservice.Config{
		Name:        Name,
		DisplayName: displayName,
		Description: description,
		Executable:  d.Executable,
		Arguments:   d.Arguments(),
		// Windows keeps these in the service's registry Environment;
		// the unit and plist above carry them themselves.
		EnvVars: map[string]string{StateDirEnv: d.StateDir},
		Option:  options,
	}, nil
}

// recoveryResetSeconds is how long the Windows service must run without
// failing before its failure count (and so its restart delay) resets.
const recoveryResetSeconds = 24 * 60 * 60
