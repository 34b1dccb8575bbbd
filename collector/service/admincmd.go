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
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/web"
)

// AdminCommand is `shadowmap admin create --email ADDR [--password-file F]`:
// a web view admin account, made on the server itself, for the first admin
// without the setup link or for the next ones. The password comes from a
// file, or is typed twice on the terminal without echo, or is the first
// line of standard input when that is not a terminal.
func AdminCommand(stdin io.Reader, stdout, stderr io.Writer, env []string) cli.Command {
	return cli.Command{
		Usage:   "admin create --email ADDR [--password-file FILE] [--config FILE] [--database PATH]",
		Summary: "create a web view admin account (password from FILE, or typed twice)",
		Run: func(args []string) error {
			if len(args) == 0 || args[0] != "create" {
				return errors.New("admin: the command is: shadowmap admin create --email you@example.com [--password-file FILE]")
			}
			fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
			fs.SetOutput(stderr)
			email := fs.String("email", "", "the admin's email, the name to sign in with")
			passwordFile := fs.String("password-file", "", "read the password from this file (its first line)")
			cfgPath := fs.String("config", "", "configuration file")
			dbPath := fs.String("database", "", "database to write (default: the configured one)")
			if err := fs.Parse(args[1:]); err != nil {
				return err
			}
			if fs.NArg() != 0 {
				return fmt.Errorf("admin create: unexpected argument %q", fs.Arg(0))
			}
			if *email == "" {
				return errors.New("admin create: give the admin's email with --email")
			}
			cfg, err := loadConfig(*cfgPath, *dbPath, env)
			if err != nil {
				return err
			}

			var password string
			if *passwordFile != "" {
				password, err = readPasswordFile(*passwordFile)
			} else {
				password, err = readPassword(stdin, stderr)
			}
			if err != nil {
				return fmt.Errorf("admin create: %w", err)
			}
			// Checked before the database is opened: a typo creates no file.
			if err := web.CheckAdmin(*email, password); err != nil {
				return fmt.Errorf("admin create: %w", err)
			}

			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := sqlite.Open(ctx, cfg.Database, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			defer st.Close()
			err = web.CreateAdmin(ctx, st, *email, password, time.Now())
			if errors.Is(err, collector.ErrAccountExists) {
				return fmt.Errorf("admin create: an admin with the email %s exists already", strings.ToLower(*email))
			}
			if err != nil {
				return fmt.Errorf("admin create: %w", err)
			}
			fmt.Fprintf(stdout, "created admin %s in %s; sign in at http://%s/signin\n", strings.ToLower(*email), cfg.Database, cfg.Listen)
			return nil
		},
	}
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
func readPassword(stdin io.Reader, prompts io.Writer) (string, error) {
	// isTerminal is importcmd.go's: a character device.
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(prompts, "Password for the new admin (at least %d characters): ", web.MinPasswordLength)
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
