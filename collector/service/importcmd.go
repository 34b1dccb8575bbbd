package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/sources/google"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures"
)

// fileList collects repeated --file flags.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// ImportCommand is `shadowmap import SOURCE`: one run of an importer, from
// its API as configured or from exported files, with progress on the
// terminal. It writes to the same database `serve` uses; SQLite lets both
// run at once.
func ImportCommand(stdout, stderr io.Writer, env []string) cli.Command {
	return cli.Command{
		Usage:   "import [--config FILE] [--file PATH]... [--sweep-tokens] google|okta|entra|dnszone|mail",
		Summary: "run one importer now (from its API, or from exported files with --file)",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("import", flag.ContinueOnError)
			fs.SetOutput(stderr)
			cfgPath := fs.String("config", "", "configuration file")
			var files fileList
			fs.Var(&files, "file", "import this exported file instead of calling the API (repeatable)")
			sweepTokens := fs.Bool("sweep-tokens", false, "google: list every user's tokens now, even when the last sweep is within sources.google.token_sweep_interval")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return fmt.Errorf("import: name one source: %s", strings.Join(importerNames, ", "))
			}
			if *sweepTokens && (fs.Arg(0) != "google" || len(files) > 0) {
				return errors.New("import: --sweep-tokens is for the Google API import only (not with --file)")
			}
			cfg, err := loadConfig(*cfgPath, "", env)
			if err != nil {
				return err
			}
			name := fs.Arg(0)
			// The API importer is built once the store is open: it uses
			// the credentials set in the web view, like serve's rounds.
			build := func(ctx context.Context, store *sqlite.Store, log *slog.Logger) (sources.Importer, error) {
				src, err := overriddenSources(ctx, cfg.Sources, store, log)
				if err != nil {
					return nil, err
				}
				if *sweepTokens {
					return google.New(src.Google, google.Options{SweepTokens: true})
				}
				return importerFor(name, src)
			}
			if len(files) > 0 {
				imp, err := fileImporterFor(name, files)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				build = func(context.Context, *sqlite.Store, *slog.Logger) (sources.Importer, error) { return imp, nil }
			} else if _, err := importerFor(name, cfg.Sources); err != nil {
				// Fail on an unknown or unconfigured source before
				// opening the database.
				return fmt.Errorf("import: %w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runImport(ctx, cfg, build, stdout, stderr)
		},
	}
}

func runImport(ctx context.Context, cfg config.Config, build func(context.Context, *sqlite.Store, *slog.Logger) (sources.Importer, error), stdout, stderr io.Writer) error {
	log := slog.New(cfg.Log.Handler(stderr))
	catalog, err := signatures.Embedded()
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, cfg.Database, sqlite.Options{Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	imp, err := build(ctx, store, log)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	runner := &sources.Runner{Stores: store, Runs: store, Catalog: catalog, Log: log}
	progress := sources.NewProgress(nil)
	done := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		progress.Report(stderr, isTerminal(stderr), time.Second, done)
	}()
	run, err := runner.Run(ctx, imp, progress)
	close(done)
	<-reported
	fmt.Fprintf(stdout, "%s: %d events read, %d new evidence rows, in %s\n", imp.Name(), run.Events, run.Imported,
		run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond))
	if errors.Is(err, context.Canceled) {
		return errors.New("import: interrupted; the next run resumes from the last checkpoint")
	}
	return err
}

// isTerminal reports whether w is a terminal, where progress overwrites
// one line instead of printing many.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
