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
	"syscall"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// ServeCommand is `shadowmap serve`: configuration from flags, SHADOWMAP_*
// variables and an optional file, then Run until SIGINT or SIGTERM.
func ServeCommand(stderr io.Writer, env []string) cli.Command {
	return cli.Command{
		Usage:   "serve [--config FILE] [flags]",
		Summary: "run the collector (SQLite at ./data/shadowmap.db, 127.0.0.1:8080 by default)",
		Run: func(args []string) error {
			cfg, err := config.Parse(args, env)
			if errors.Is(err, flag.ErrHelp) {
				config.Usage(stderr)
				return nil
			}
			if err != nil {
				return err
			}
			log := slog.New(cfg.Log.Handler(stderr))
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, cfg, log)
		},
	}
}

// BackupCommand is `shadowmap backup FILE`: an online copy of the
// database, safe while the collector runs.
func BackupCommand(stdout, stderr io.Writer, env []string) cli.Command {
	return cli.Command{
		Usage:   "backup [--config FILE] [--database PATH] FILE",
		Summary: "copy the database to FILE while the collector runs (SQLite online backup)",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("backup", flag.ContinueOnError)
			fs.SetOutput(stderr)
			cfgPath := fs.String("config", "", "configuration file")
			dbPath := fs.String("database", "", "database to copy (default: the configured one)")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return errors.New("backup: give the file to write, e.g. shadowmap backup /backups/shadowmap-2026-11-25.db")
			}
			cfg, err := loadConfig(*cfgPath, *dbPath, env)
			if err != nil {
				return err
			}
			if _, err := os.Stat(cfg.Database); err != nil {
				return fmt.Errorf("backup: no database at %s: %w", cfg.Database, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := sqlite.Open(ctx, cfg.Database, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Backup(ctx, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backed up %s to %s\n", cfg.Database, fs.Arg(0))
			return nil
		},
	}
}

// loadConfig is the configuration the one-shot commands (backup, import,
// admin, digest) work on: serve's, from the file named (else the one
// SHADOWMAP_CONFIG names), with the database overridden when dbPath is
// set, so they always open the database serve uses.
func loadConfig(cfgPath, dbPath string, env []string) (config.Config, error) {
	var args []string
	if cfgPath != "" {
		args = append(args, "--config", cfgPath)
	}
	if dbPath != "" {
		args = append(args, "--database", dbPath)
	}
	return config.Parse(args, env)
}
