package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"
)

// ErrConfig marks an error the agent cannot get past by restarting: no
// configuration file yet, an unparsable one, no collector URL. Wrap it
// with ConfigError; RunManaged then waits and tries again instead of
// exiting into a restart loop.
var ErrConfig = errors.New("agent configuration is not usable")

// ConfigError marks err as a configuration problem (see ErrConfig).
func ConfigError(err error) error {
	if err == nil {
		return nil
	}
	return &configError{err}
}

type configError struct{ err error }

func (e *configError) Error() string   { return e.err.Error() }
func (e *configError) Unwrap() []error { return []error{ErrConfig, e.err} }

// Runner runs the agent under whatever started it. The zero value is
// ready to use.
type Runner struct {
	// Logger receives the runner's own messages (slog.Default() when nil).
	Logger *slog.Logger
	// ConfigRetry is how long to wait before running the agent again
	// after a configuration error (one minute when zero).
	ConfigRetry time.Duration
	// StopTimeout bounds how long a Windows service stop waits for the
	// agent to finish (15 s when zero: the service control manager
	// gives a service about 20 s).
	StopTimeout time.Duration
	// underSCM reports whether the Windows service control manager
	// started the process; nil means ask kardianos.
	underSCM func() bool
	// exit ends the process when the agent fails under the Windows
	// service control manager; nil means os.Exit.
	exit func(code int)
}

// RunManaged runs the agent with a zero Runner: see Runner.Run.
func RunManaged(run func(ctx context.Context) error) error {
	var r Runner
	return r.Run(run)
}

// Run runs the agent, run, until it is asked to stop, and returns nil
// after a requested stop.
//
// In a terminal, under systemd and under launchd, the stop request is
// SIGINT or SIGTERM: it cancels run's context. Started by the Windows
// service control manager, the agent runs through kardianos' service
// protocol: the service's Stop cancels run's context and waits, at most
// StopTimeout, for run to return.
//
// When run fails with a configuration error (errors.Is(err, ErrConfig)),
// Run logs it and runs the agent again after ConfigRetry, until stopped:
// a configuration that MDM delivers after the package is picked up, and a
// bad one never becomes a crash loop. Any other error ends Run with that
// error; the caller should exit with status 1 so the service manager
// restarts the agent on its slow schedule (systemd RestartSec, launchd
// ThrottleInterval). Under the Windows service control manager Run cannot
// return while the service is running, so it logs the error and exits
// the process with status 1: the service's recovery actions then restart
// it after 10 s, then 60 s.
func (r *Runner) Run(run func(ctx context.Context) error) error {
	if r.isUnderSCM() {
		return r.runUnderSCM(run)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return r.runUntilStopped(ctx, run)
}

func (r *Runner) isUnderSCM() bool {
	if r.underSCM != nil {
		return r.underSCM()
	}
	return runtime.GOOS == "windows" && !kservice.Interactive()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// runUntilStopped runs run until ctx is cancelled, retrying configuration
// errors. It returns nil once ctx is cancelled.
func (r *Runner) runUntilStopped(ctx context.Context, run func(ctx context.Context) error) error {
	retry := r.ConfigRetry
	if retry <= 0 {
		retry = time.Minute
	}
	for {
		err := run(ctx)
		if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return nil
		}
		if err == nil || !errors.Is(err, ErrConfig) {
			return err
		}
		r.logger().Error("the agent cannot start until its configuration is fixed; trying again later", "err", err, "retry_in", retry)
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (r *Runner) runUnderSCM(run func(ctx context.Context) error) error {
	p := &scmProgram{runner: r, run: run}
	s, err := kservice.New(p, &kservice.Config{Name: Name})
	if err != nil {
		return fmt.Errorf("run as a service: %w", err)
	}
	if err := s.Run(); err != nil {
		return fmt.Errorf("run as a service: %w", err)
	}
	return nil
}

// scmProgram is the agent as a kardianos service program: Start launches
// it, Stop cancels it and waits.
type scmProgram struct {
	runner *Runner
	run    func(ctx context.Context) error

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error // run's result, once done is closed
}

func (p *scmProgram) Start(kservice.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done = cancel, done
	p.mu.Unlock()
	go func() {
		err := p.runner.runUntilStopped(ctx, p.run)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
		if ctx.Err() != nil {
			return // Stop asked for this; Stop reports the result.
		}
		if err == nil {
			err = errors.New("the agent stopped by itself")
		}
		p.runner.logger().Error("agent failed; exiting so the service manager restarts it", "err", err)
		exit := p.runner.exit
		if exit == nil {
			exit = os.Exit
		}
		exit(1)
	}()
	return nil
}

func (p *scmProgram) Stop(kservice.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil // never started
	}
	cancel()
	timeout := p.runner.StopTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-t.C:
		return fmt.Errorf("the agent did not stop within %s", timeout)
	}
}
