package digest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// Opened is what the digest commands need from a collector: its
// configuration and the digest's inputs. The service package opens the
// store and the inventory (it knows how); the commands stay testable
// with any Deps.
type Opened struct {
	Config config.Config
	Deps   Deps
	Close  func() error
}

// OpenFunc loads the configuration (cfgPath "" for the default search)
// and opens what the digest reads.
type OpenFunc func(ctx context.Context, cfgPath string) (Opened, error)

// CommandEnv is the digest command's surroundings; Now defaults to
// time.Now.
type CommandEnv struct {
	Stdout, Stderr io.Writer
	Open           OpenFunc
	Now            func() time.Time
}

// Command is `shadowmap digest preview|send`.
func Command(env CommandEnv) cli.Command {
	return cli.Command{
		Usage:   "digest preview [--week YYYY-Www] [--text] | send --to ADDR [--week YYYY-Www]",
		Summary: "render the weekly digest, or send it to one address now",
		Run: func(args []string) error {
			if len(args) == 0 {
				return errors.New("digest: preview or send?")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			switch args[0] {
			case "preview":
				return runPreview(ctx, env, args[1:])
			case "send":
				return runSend(ctx, env, args[1:])
			}
			return fmt.Errorf("digest: unknown subcommand %q: want preview or send", args[0])
		},
	}
}

type commonFlags struct {
	fs     *flag.FlagSet
	config *string
	week   *string
}

func newFlags(name string, stderr io.Writer) commonFlags {
	fs := flag.NewFlagSet("digest "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return commonFlags{
		fs:     fs,
		config: fs.String("config", "", "configuration file"),
		week:   fs.String("week", "", "the ISO week to report on, YYYY-Www (default: the last full week)"),
	}
}

// compose opens the collector and renders the digest of the chosen week.
func compose(ctx context.Context, env CommandEnv, f commonFlags) (Opened, Message, error) {
	o, err := env.Open(ctx, *f.config)
	if err != nil {
		return Opened{}, Message{}, err
	}
	now := time.Now()
	if env.Now != nil {
		now = env.Now()
	}
	loc, err := o.Config.Digest.Location()
	if err != nil {
		return o, Message{}, err
	}
	// The last full week, as the scheduled send would report it.
	week := lastFullWeek(now, loc)
	if *f.week != "" {
		if week, err = ParseISOWeek(*f.week, loc); err != nil {
			return o, Message{}, err
		}
	}
	// A past week is rendered as of its end, so "renewals coming up"
	// and silent agents read as they did then.
	if week.End.Before(now) && *f.week != "" {
		now = week.End
	}
	d, err := Build(ctx, o.Deps, week, now)
	if err != nil {
		return o, Message{}, err
	}
	return o, d.Message(o.Config.Digest.BaseURL, o.Config.Digest.Company), nil
}

func runPreview(ctx context.Context, env CommandEnv, args []string) error {
	f := newFlags("preview", env.Stderr)
	text := f.fs.Bool("text", false, "print the plain-text part instead of the HTML")
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() != 0 {
		return fmt.Errorf("digest preview: unexpected %q", f.fs.Arg(0))
	}
	o, m, err := compose(ctx, env, f)
	if o.Close != nil {
		defer o.Close()
	}
	if err != nil {
		return err
	}
	out := m.HTML
	if *text {
		out = "Subject: " + m.Subject + "\n\n" + m.Text
	}
	_, err = io.WriteString(env.Stdout, out)
	return err
}

func runSend(ctx context.Context, env CommandEnv, args []string) error {
	f := newFlags("send", env.Stderr)
	to := f.fs.String("to", "", "the address to send to (comma-separated for several)")
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() != 0 {
		return fmt.Errorf("digest send: unexpected %q", f.fs.Arg(0))
	}
	addrs, err := collector.ParseDigestRecipients(*to)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("digest send: --to: want an email address (%v)", err)
	}
	o, m, err := compose(ctx, env, f)
	if o.Close != nil {
		defer o.Close()
	}
	if err != nil {
		return err
	}
	d := o.Config.Digest
	if d.SMTP.Host == "" || d.From == "" {
		return errors.New("digest send: set digest.smtp.host and digest.from in the configuration")
	}
	// A send by hand is a test: it does not touch the send log, so the
	// scheduled digest still goes out.
	if err := Send(ctx, d.SMTP, d.From, addrs, m); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "digest sent to %s: %s\n", strings.Join(addrs, ", "), m.Subject)
	return nil
}
