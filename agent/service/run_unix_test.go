//go:build !windows

package service

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
)

// In a terminal and under systemd or launchd, SIGTERM and SIGINT stop the
// agent: its context is cancelled and Run returns nil.
func TestRunStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			r := quietRunner()
			r.underSCM = func() bool { return false }
			var sawCancel bool
			err := r.Run(func(ctx context.Context) error {
				// Run has registered for the signal before calling run,
				// so this reaches Run's handler, not the default one.
				if err := syscall.Kill(os.Getpid(), sig); err != nil {
					return err
				}
				<-ctx.Done()
				sawCancel = true
				return ctx.Err()
			})
			if err != nil || !sawCancel {
				t.Errorf("Run = %v, context cancelled: %v", err, sawCancel)
			}
		})
	}
}

func TestRunReturnsTheAgentsError(t *testing.T) {
	r := quietRunner()
	r.underSCM = func() bool { return false }
	boom := errors.New("boom")
	if err := r.Run(func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Run = %v, want %v", err, boom)
	}
}
