package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func quietRunner() *Runner {
	return &Runner{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ConfigRetry: time.Millisecond}
}

func TestConfigError(t *testing.T) {
	if ConfigError(nil) != nil {
		t.Error("ConfigError(nil) is not nil")
	}
	cause := errors.New("no collector URL")
	err := ConfigError(cause)
	if !errors.Is(err, ErrConfig) || !errors.Is(err, cause) {
		t.Errorf("ConfigError(%v) is neither ErrConfig nor its cause", cause)
	}
	if err.Error() != cause.Error() {
		t.Errorf("message %q, want the cause's %q", err, cause)
	}
	if errors.Is(cause, ErrConfig) {
		t.Error("a plain error counts as a configuration error")
	}
}

func TestRunUntilStopped(t *testing.T) {
	boom := errors.New("capture device vanished")
	tests := []struct {
		name      string
		results   []error // what run returns, call by call; past the end it waits for cancellation
		wantErr   error
		wantCalls int32
	}{
		{name: "stops cleanly on cancel", results: nil, wantCalls: 1},
		{name: "other error ends it", results: []error{boom}, wantErr: boom, wantCalls: 1},
		{name: "config errors are retried", results: []error{ConfigError(boom), ConfigError(boom)}, wantCalls: 3},
		{name: "config error then a real one", results: []error{ConfigError(boom), boom}, wantErr: boom, wantCalls: 2},
		{name: "returning nil by itself ends it", results: []error{nil}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int32
			run := func(ctx context.Context) error {
				n := calls.Add(1)
				if int(n) <= len(tt.results) {
					return tt.results[n-1]
				}
				cancel() // the service manager asks the agent to stop
				<-ctx.Done()
				return ctx.Err()
			}
			err := quietRunner().runUntilStopped(ctx, run)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("runUntilStopped = %v, want %v", err, tt.wantErr)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("run called %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestRunUntilStoppedCancelledWhileWaitingForConfig(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := quietRunner()
	r.ConfigRetry = time.Hour // only cancellation can end the wait
	var calls atomic.Int32
	err := r.runUntilStopped(ctx, func(context.Context) error {
		calls.Add(1)
		cancel()
		return ConfigError(errors.New("no config file"))
	})
	if err != nil || calls.Load() != 1 {
		t.Errorf("runUntilStopped = %v after %d calls, want nil after 1", err, calls.Load())
	}
}

func TestSCMProgramStopCancelsAndWaits(t *testing.T) {
	r := quietRunner()
	r.exit = func(code int) { t.Errorf("exit(%d) after a requested stop", code) }
	finished := make(chan struct{})
	p := &scmProgram{runner: r, run: func(ctx context.Context) error {
		<-ctx.Done()
		close(finished)
		return ctx.Err()
	}}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(nil); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Stop returned before the agent finished")
	}
}

func TestSCMProgramStopIsBounded(t *testing.T) {
	r := quietRunner()
	r.StopTimeout = time.Millisecond
	release := make(chan struct{})
	exited := make(chan struct{})
	p := &scmProgram{runner: r, run: func(context.Context) error {
		<-release // an agent that ignores its context
		return nil
	}}
	r.exit = func(int) { close(exited) }
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	err := p.Stop(nil)
	if err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Errorf("Stop = %v, want a did-not-stop error", err)
	}
	close(release)
	<-p.done
	select {
	case <-exited:
		t.Error("the process exited after a requested stop")
	default:
	}
}

func TestSCMProgramExitsWhenTheAgentFails(t *testing.T) {
	r := quietRunner()
	codes := make(chan int, 1)
	r.exit = func(code int) { codes <- code }
	p := &scmProgram{runner: r, run: func(context.Context) error { return errors.New("spool is corrupt") }}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if code := <-codes; code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

func TestSCMProgramStopBeforeStart(t *testing.T) {
	if err := (&scmProgram{runner: quietRunner()}).Stop(nil); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
}
