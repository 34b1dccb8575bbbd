package demo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/shadowmap/shadowmap/internal/cli"
)

// Command is `shadowmap demo`.
func Command(stdout, stderr io.Writer) cli.Command {
	return cli.Command{
		Usage:   "demo [--listen ADDR] [--data-dir DIR] [--people N] [--seed N]",
		Summary: "serve a simulated 300-person company's inventory, fed through the real pipeline (wipes ./demo-data)",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("demo", flag.ContinueOnError)
			fs.SetOutput(stderr)
			var o Options
			fs.StringVar(&o.Listen, "listen", DefaultListen, "host:port the collector listens on")
			fs.StringVar(&o.DataDir, "data-dir", DefaultDataDir, "the demo's own data directory, wiped and recreated on every run")
			fs.IntVar(&o.People, "people", DefaultPeople, "employees of the simulated company")
			fs.IntVar(&o.Laptops, "laptops", 0, "laptops running the agent (default 2 in 5 employees)")
			fs.Uint64Var(&o.Seed, "seed", 1, "the same seed makes the same company")
			verbose := fs.Bool("v", false, "log the collector's messages")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
			}
			if *verbose {
				o.Log = slog.New(slog.NewTextHandler(stderr, nil))
			}
			o.Progress = stderr
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, o, stdout)
		},
	}
}

// Run starts the demo, prints where it is and how to sign in, and serves
// until ctx ends.
func Run(ctx context.Context, o Options, stdout io.Writer) error {
	start := time.Now()
	d, err := Start(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	s := d.Stats
	fmt.Fprintf(stdout, "\nshadowmap demo: Acme Example (%s), %d people, ready in %s\n", Domain, s.People, time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(stdout, "  laptops   %d agents replayed %d packets: %d names matched apps, %d noise or unknown names dropped; %d daily sightings uploaded\n",
		s.Laptops, s.Packets, s.Matched, s.Dropped, s.Sightings)
	fmt.Fprintf(stdout, "  importers Google Workspace %d events, Entra %d sign-ins, mail %d messages (%d evidence rows)\n",
		s.GoogleEvents, s.EntraEvents, s.Mails, s.MailEvidence)
	fmt.Fprintf(stdout, "\n  open      %s/\n", d.URL)
	fmt.Fprintf(stdout, "  sign in   %s with the password %s (new on every run, shown only here)\n", d.AdminEmail, d.AdminPassword)
	fmt.Fprintf(stdout, "  API       curl -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/apps\n",
		relative(filepath.Join(d.DataDir, adminTokenFile)), d.URL)
	fmt.Fprintf(stdout, "  admin token (for the API and scripts): %s\n", d.AdminToken)
	fmt.Fprintf(stdout, "  data      %s (wiped by the next demo run)\n\nCtrl-C to stop.\n", relative(d.DataDir))
	<-ctx.Done()
	fmt.Fprintln(stdout, "demo: stopping")
	return d.Close()
}

// relative shortens a path under the working directory for printing.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !filepath.IsAbs(r) && len(r) < len(path) && r[0] != '.' {
		return r
	}
	return path
}
