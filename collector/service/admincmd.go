package service

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/web"
)

// AdminCommand is `shadowmap admin`, run on the server itself to manage
// the web view's admin accounts without signing in:
//
//	admin create --email ADDR [--password-file F]    a new admin
//	admin list                                       every admin
//	admin delete --email ADDR                        remove one, and sign it out
//	admin password --email ADDR [--password-file F]  reset one's password
//
// A password comes from a file, or is typed twice on the terminal without
// echo, or is the first line of standard input when that is not a
// terminal. Every subcommand takes --config and --database.
func AdminCommand(stdin io.Reader, stdout, stderr io.Writer, env []string) cli.Command {
	return cli.Command{
		Usage:   "admin create|list|delete|password [--email ADDR] [--password-file FILE] [--config FILE] [--database PATH]",
		Summary: "create, list, delete web view admin accounts, or reset one's password",
		Run: func(args []string) error {
			if len(args) == 0 {
				return errAdminUsage
			}
			a := adminRun{stdin: stdin, stdout: stdout, stderr: stderr, env: env}
			switch args[0] {
			case "create":
				return a.create(args[1:])
			case "list":
				return a.list(args[1:])
			case "delete":
				return a.delete(args[1:])
			case "password":
				return a.password(args[1:])
			}
			return errAdminUsage
		},
	}
}

var errAdminUsage = errors.New("admin: the commands are: shadowmap admin create --email you@example.com [--password-file FILE], " +
	"shadowmap admin list, shadowmap admin delete --email ADDR, shadowmap admin password --email ADDR [--password-file FILE]")

// adminRun is one run of `shadowmap admin`.
type adminRun struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            []string
}

// adminFlags are the flags of a subcommand, parsed.
type adminFlags struct {
	email, passwordFile string
	cfg                 config.Config
}

// parse reads a subcommand's flags: withEmail and withPassword say which
// of --email and --password-file it takes; --email is then required.
func (a adminRun) parse(name string, args []string, withEmail, withPassword bool) (adminFlags, error) {
	fs := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	var f adminFlags
	if withEmail {
		fs.StringVar(&f.email, "email", "", "the admin's email, the name to sign in with")
	}
	if withPassword {
		fs.StringVar(&f.passwordFile, "password-file", "", "read the password from this file (its first line)")
	}
	cfgPath := fs.String("config", "", "configuration file")
	dbPath := fs.String("database", "", "database to use (default: the configured one)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() != 0 {
		return f, fmt.Errorf("admin %s: unexpected argument %q", name, fs.Arg(0))
	}
	if withEmail && f.email == "" {
		return f, fmt.Errorf("admin %s: give the admin's email with --email", name)
	}
	cfg, err := loadConfig(*cfgPath, *dbPath, a.env)
	if err != nil {
		return f, err
	}
	f.cfg = cfg
	return f, nil
}

// readNewPassword reads a password from --password-file or stdin and
// checks it with the web view's rules, before any database is opened: a
// typo creates no file.
func (a adminRun) readNewPassword(name string, f adminFlags, prompt string) (string, error) {
	var password string
	var err error
	if f.passwordFile != "" {
		password, err = readPasswordFile(f.passwordFile)
	} else {
		password, err = readPassword(a.stdin, a.stderr, prompt)
	}
	if err != nil {
		return "", fmt.Errorf("admin %s: %w", name, err)
	}
	if err := web.CheckAdmin(f.email, password); err != nil {
		return "", fmt.Errorf("admin %s: %w", name, err)
	}
	return password, nil
}

// open opens the configured database. Only create may make a new one: the
// other subcommands on a mistyped path would otherwise leave an empty
// database behind and report that it has no admins.
func (a adminRun) open(ctx context.Context, name string, f adminFlags, mayCreate bool) (*sqlite.Store, error) {
	if !mayCreate {
		if _, err := os.Stat(f.cfg.Database); err != nil {
			return nil, fmt.Errorf("admin %s: database %s: %w", name, f.cfg.Database, err)
		}
	}
	st, err := sqlite.Open(ctx, f.cfg.Database, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("admin %s: %w", name, err)
	}
	return st, nil
}

func adminContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func (a adminRun) create(args []string) error {
	f, err := a.parse("create", args, true, true)
	if err != nil {
		return err
	}
	password, err := a.readNewPassword("create", f, "Password for the new admin")
	if err != nil {
		return err
	}
	ctx, stop := adminContext()
	defer stop()
	st, err := a.open(ctx, "create", f, true)
	if err != nil {
		return err
	}
	defer st.Close()
	err = web.CreateAdmin(ctx, st, f.email, password, time.Now())
	if errors.Is(err, collector.ErrAccountExists) {
		return fmt.Errorf("admin create: an admin with the email %s exists already", strings.ToLower(f.email))
	}
	if err != nil {
		return fmt.Errorf("admin create: %w", err)
	}
	fmt.Fprintf(a.stdout, "created admin %s in %s; sign in at http://%s/signin\n", strings.ToLower(f.email), f.cfg.Database, f.cfg.Listen)
	return nil
}

func (a adminRun) list(args []string) error {
	f, err := a.parse("list", args, false, false)
	if err != nil {
		return err
	}
	ctx, stop := adminContext()
	defer stop()
	st, err := a.open(ctx, "list", f, false)
	if err != nil {
		return err
	}
	defer st.Close()
	accounts, err := st.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("admin list: %w", err)
	}
	if len(accounts) == 0 {
		fmt.Fprintln(a.stdout, "no admin accounts; create one with: shadowmap admin create --email you@example.com")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tCREATED")
	for _, acct := range accounts {
		fmt.Fprintf(tw, "%s\t%s\n", acct.Email, acct.CreatedAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("admin list: %w", err)
	}
	return nil
}

func (a adminRun) delete(args []string) error {
	f, err := a.parse("delete", args, true, false)
	if err != nil {
		return err
	}
	email := strings.ToLower(strings.TrimSpace(f.email))
	ctx, stop := adminContext()
	defer stop()
	st, err := a.open(ctx, "delete", f, false)
	if err != nil {
		return err
	}
	defer st.Close()
	err = st.DeleteAccount(ctx, email)
	switch {
	case errors.Is(err, collector.ErrNotFound):
		return fmt.Errorf("admin delete: no admin %s (see shadowmap admin list)", email)
	case errors.Is(err, collector.ErrLastAccount):
		return fmt.Errorf("admin delete: %s is the last admin; create another one first (shadowmap admin create)", email)
	case err != nil:
		return fmt.Errorf("admin delete: %w", err)
	}
	fmt.Fprintf(a.stdout, "deleted admin %s and signed it out\n", email)
	return nil
}

func (a adminRun) password(args []string) error {
	f, err := a.parse("password", args, true, true)
	if err != nil {
		return err
	}
	email := strings.ToLower(strings.TrimSpace(f.email))
	password, err := a.readNewPassword("password", f, "New password for "+email)
	if err != nil {
		return err
	}
	ctx, stop := adminContext()
	defer stop()
	st, err := a.open(ctx, "password", f, false)
	if err != nil {
		return err
	}
	defer st.Close()
	// Checked before the slow hash, so a typo in the email answers at
	// once.
	if _, err := st.Account(ctx, email); errors.Is(err, collector.ErrNotFound) {
		return fmt.Errorf("admin password: no admin %s (see shadowmap admin list)", email)
	} else if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	err = st.SetPassword(ctx, email, hash)
	if errors.Is(err, collector.ErrNotFound) {
		return fmt.Errorf("admin password: no admin %s (see shadowmap admin list)", email)
	}
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	fmt.Fprintf(a.stdout, "changed the password of %s and signed it out everywhere\n", email)
	return nil
}

// readPasswordFile returns the first line of a password file, without its
// line ending: `echo pw > file` must not put a newline in the password.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("password file %s: the first line is empty", path)
	}
	return line, nil
}

// readPassword asks for the password twice on a terminal, with echo off,
// or reads one line from stdin when it is a pipe or a file.
// prompt says whose password it is, as in "Password for the new admin".
func readPassword(stdin io.Reader, prompts io.Writer, prompt string) (string, error) {
	// isTerminal is importcmd.go's: a character device.
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(prompts, "%s (at least %d characters): ", prompt, web.MinPasswordLength)
		first, err := readHidden(f)
		fmt.Fprintln(prompts)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompts, "The same password again: ")
		second, err := readHidden(f)
		fmt.Fprintln(prompts)
		if err != nil {
			return "", err
		}
		if first != second {
			return "", errors.New("the two passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on standard input (or use --password-file)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readHidden reads a line from the terminal f with echo turned off through
// stty (golang.org/x/term is not a dependency). Where echo cannot be
// turned off it refuses rather than show the password.
func readHidden(f *os.File) (string, error) {
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = f
		return cmd.Run()
	}
	if err := stty("-echo"); err != nil {
		return "", errors.New("cannot turn off echo on this terminal to type the password; use --password-file")
	}
	// Echo comes back even when the read is interrupted with Ctrl-C.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(f).ReadString('\n')
		done <- result{strings.TrimRight(line, "\r\n"), err}
	}()
	var res result
	select {
	case res = <-done:
	case <-sigs:
		res.err = errors.New("interrupted")
	}
	if err := stty("echo"); err != nil && res.err == nil {
		res.err = fmt.Errorf("turn echo back on: %w", err)
	}
	if res.err != nil && !(errors.Is(res.err, io.EOF) && res.line != "") {
		if errors.Is(res.err, io.EOF) {
			return "", errors.New("no password typed")
		}
		return "", res.err
	}
	return res.line, nil
}

// logSetupLink logs the one-time link that creates the first admin, when
// no admin exists yet; each start makes a new link and kills the last.
// addr is the address the collector listens on.
func logSetupLink(ctx context.Context, log *slog.Logger, view *web.Server, scheme string, addr net.Addr) {
	link, err := view.SetupLink(ctx, setupBaseURL(scheme, addr))
	switch {
	case err != nil:
		log.Error("no admin account yet, and the setup link could not be made; run `shadowmap admin create`", "err", err)
	case link != "":
		log.Warn("no admin account yet: open this one-time link within 24 hours to create the first admin "+
			"(from another machine, put the server's name in it), or run `shadowmap admin create`", "url", link)
	}
}

// setupBaseURL is where an admin on the server reaches the web view: a
// wildcard listen address becomes the loopback one.
func setupBaseURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.Is6() && !ip.Is4In6() {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
