package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/budget"
	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/privdir"
	"github.com/shadowmap/shadowmap/agent/resolver"
	"github.com/shadowmap/shadowmap/agent/resolver/dnsconfig"
	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// RunCommand is `shadowmap-agent run`: the agent in the foreground, and
// what the service definition starts. Settings come from flags, then
// SHADOWMAP_AGENT_* variables, then MDM-managed settings, then the config
// file (agent/config). A configuration that is missing or wrong does not
// crash-loop the service: the agent writes the problems to its status
// file, for `shadowmap-agent status`, and checks again every minute.
func RunCommand(stderr io.Writer, env func(string) string, version string) cli.Command {
	return cli.Command{
		Usage:   "run [flags]",
		Summary: "capture, match and upload in the foreground (needs root or CAP_NET_RAW on Linux)",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			fs.SetOutput(stderr)
			flags := config.RegisterFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return fmt.Errorf("run: unexpected argument %q", fs.Arg(0))
			}
			runner := service.Runner{Logger: slog.New(slog.NewTextHandler(stderr, nil))}
			return runner.Run(func(ctx context.Context) error {
				return runOnce(ctx, flags, env, version, stderr)
			})
		},
	}
}

// runOnce loads the settings and runs the agent until ctx ends.
func runOnce(ctx context.Context, flags *config.Flags, env func(string) string, version string, stderr io.Writer) error {
	s, err := config.Load(config.Options{Flags: flags, Getenv: env, Managed: config.DefaultManagedStore()})
	level := slog.LevelInfo
	if s != nil {
		level = s.LogLevel.Value
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var problems config.Problems
	if errors.As(err, &problems) {
		saveConfigProblems(s, problems, log)
		return service.ConfigError(fmt.Errorf("agent settings:\n%w", problems))
	}
	if err != nil {
		return service.ConfigError(fmt.Errorf("agent settings: %w", err))
	}
	for _, w := range s.Warnings {
		log.Warn(w)
	}
	log.Info("settings", "settings", s)
	// A laptop agent must stay small: a soft limit makes the garbage
	// collector work harder instead of letting the heap grow.
	debug.SetMemoryLimit(s.MemoryLimit.Value)
	host, _ := os.Hostname()
	a, err := New(Config{
		CollectorURL: s.CollectorURL.Value, EnrollSecret: s.EnrollSecret.Value.Reveal(), StateDir: s.StateDir.Value,
		FlushInterval: s.FlushInterval.Value, User: s.User.Value, Hostname: host, OS: runtime.GOOS,
		OwnerEmail: s.OwnerEmail.Value, Version: version, Logger: log, UnknownDomains: s.UnknownDomains.Value,
		OwnDomains: s.OwnDomains.Value, Settings: s.Redacted(),
	})
	if err != nil {
		return err
	}
	defer a.Close()
	// Loading the catalog is the biggest allocation the agent ever
	// makes; give that memory back before settling in.
	debug.FreeOSMemory()

	gov, err := budget.New(budget.Options{Budget: float64(s.CPUPercent.Value) / 100})
	if err != nil {
		return service.ConfigError(err)
	}
	go gov.Run(ctx)

	resolverState := filepath.Join(s.StateDir.Value, "resolver-dns.json")
	var src Source
	switch s.ResolverMode.Value {
	case config.ResolverForward:
		src = ResolverSource(resolverState, log, a.ReportSource)
	default:
		restoreResolverLeftover(ctx, resolverState, log)
		src = LiveSource(s.Interfaces.Value, log, a.ReportSource, gov.Pace)
	}
	log.Info("agent running", "collector", s.CollectorURL.Value, "state_dir", s.StateDir.Value,
		"interval", s.FlushInterval.Value, "resolver_mode", s.ResolverMode.Value, "cpu_percent", s.CPUPercent.Value)
	return a.Run(ctx, src)
}

// saveConfigProblems leaves the problems where `status` finds them, so a
// person at the laptop (or IT through MDM) sees why the agent waits.
func saveConfigProblems(s *config.Settings, problems config.Problems, log *slog.Logger) {
	lines := problems.Lines()
	for _, line := range lines {
		log.Error("agent settings", "problem", line)
	}
	if s == nil || s.StateDir.Value == "" {
		return
	}
	if err := privdir.MkdirAll(s.StateDir.Value); err != nil {
		log.Warn("save status", "err", err)
		return
	}
	st := Status{Collector: s.CollectorURL.Value, Updated: time.Now().UTC(), ConfigProblems: lines, Settings: s.Redacted()}
	if err := writeStatus(s.StateDir.Value, st); err != nil {
		log.Warn("save status", "err", err)
	}
}

// restoreResolverLeftover hands the laptop back its own DNS settings when
// an earlier run in resolver mode was killed and the mode is now off.
func restoreResolverLeftover(ctx context.Context, statePath string, log *slog.Logger) {
	if _, err := os.Stat(statePath); err != nil {
		return // the common case: resolver mode never ran, or ended cleanly
	}
	sys, err := dnsconfig.ForOS()
	if err != nil {
		log.Warn("resolver mode left DNS settings behind, and this system's cannot be restored", "state", statePath, "err", err)
		return
	}
	g := resolver.NewGuard(resolver.GuardOptions{Settings: sys, StatePath: statePath, Logger: log})
	if err := g.RestoreLeftover(ctx); err != nil {
		log.Warn("restore DNS settings left by resolver mode", "err", err)
	}
}

// resolverRetry is how long resolver mode waits after it gave up (its
// upstreams failed, or its listener died) before pointing the system at
// the forwarder again. The system's own settings are back meanwhile.
const resolverRetry = time.Minute

// ResolverSource is resolver mode: the opt-in local DNS forwarder, which
// the system's DNS settings point at with the previous servers behind it.
// It observes the names asked and fails open: whenever it stops, the
// original settings are back (resolver.Guard).
func ResolverSource(statePath string, log *slog.Logger, report func(SourceHealth)) Source {
	return func(ctx context.Context, emit func(Name)) error {
		sys, err := dnsconfig.ForOS()
		if err != nil {
			report(SourceHealth{State: "stopped", LastError: err.Error()})
			return fmt.Errorf("resolver mode: %w", err)
		}
		observe := func(name string, t time.Time) {
			emit(Name{Name: name, Source: aggregate.SourceDNS, Time: t})
		}
		for {
			// The forwarder reads no packets; its names reach the
			// aggregator's counts through emit.
			report(SourceHealth{State: "running", Interfaces: []string{"resolver 127.0.0.1:53"}})
			g := resolver.NewGuard(resolver.GuardOptions{Settings: sys, StatePath: statePath, Logger: log})
			err := g.Run(ctx, observe)
			if ctx.Err() != nil {
				report(SourceHealth{State: "stopped"})
				return nil
			}
			// The guard has put the system's settings back; say why and
			// try again later rather than leave the laptop on a resolver
			// that is failing.
			log.Warn("resolver mode stopped; the system's DNS settings are restored", "err", err, "retry_in", resolverRetry)
			report(SourceHealth{State: "degraded", LastError: fmt.Sprint(err)})
			t := time.NewTimer(resolverRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}
