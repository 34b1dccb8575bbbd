package service

import (
	"errors"
	"fmt"
	"runtime"

	kservice "github.com/kardianos/service"
)

// The states ServiceState reports.
const (
	StateRunning      = "running"
	StateStopped      = "stopped"
	StateFailed       = "failed" // systemd gave up restarting it
	StateNotInstalled = "not-installed"
	StateUnsupported  = "unsupported" // no service manager this package installs into
)

// manager is what the commands need of an installed or installable
// service; kardianos' Service is one.
type manager interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	Status() (kservice.Status, error)
	Platform() string
}

// supportedPlatform reports whether kardianos chose a service manager
// this package writes definitions for: our unit and plist are what carry
// the limits and the sandbox, so sysv, upstart and the like are refused.
func supportedPlatform(goos, platform string) bool {
	switch goos {
	case "linux":
		return platform == "linux-systemd"
	case "darwin", "windows":
		return platform != ""
	}
	return false
}

// noProgram is the program of a service that is only controlled, never run.
type noProgram struct{}

func (noProgram) Start(kservice.Service) error { return nil }
func (noProgram) Stop(kservice.Service) error  { return nil }

// newManager is the kardianos service for d, or ErrUnsupported.
func newManager(d Definition) (manager, error) {
	if !supportedPlatform(runtime.GOOS, kservice.Platform()) {
		return nil, errUnsupported()
	}
	cfg, err := d.kardianosConfig(runtime.GOOS)
	if err != nil {
		return nil, err
	}
	s, err := kservice.New(noProgram{}, cfg)
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err)
	}
	return s, nil
}

// ErrUnsupported is returned on machines without a service manager this
// package supports (Linux without systemd).
var ErrUnsupported = errors.New("no supported service manager on this machine")

func errUnsupported() error {
	platform := kservice.Platform()
	if platform == "" {
		platform = "none found"
	}
	return fmt.Errorf("%w (%s/%s, service manager: %s; on Linux only systemd is supported)", ErrUnsupported, runtime.GOOS, runtime.GOARCH, platform)
}

// controlManager is the kardianos service for controlling the installed
// service (status, start, stop, uninstall), which needs only its name.
func controlManager() (manager, error) {
	if !supportedPlatform(runtime.GOOS, kservice.Platform()) {
		return nil, errUnsupported()
	}
	s, err := kservice.New(noProgram{}, &kservice.Config{Name: Name, DisplayName: displayName})
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err)
	}
	return s, nil
}

// ServiceState is the agent service's state on this machine: one of
// StateRunning, StateStopped, StateFailed, StateNotInstalled or
// StateUnsupported. The error says why when the state could not be read.
func ServiceState() (string, error) {
	m, err := controlManager()
	if errors.Is(err, ErrUnsupported) {
		return StateUnsupported, nil
	}
	if err != nil {
		return "", err
	}
	return stateOf(m)
}

func stateOf(m manager) (string, error) {
	st, err := m.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return StateNotInstalled, nil
	case err != nil && err.Error() == "service in failed state":
		// kardianos reports systemd's "failed" only as this message.
		return StateFailed, nil
	case err != nil:
		return "", fmt.Errorf("service state: %w", err)
	}
	switch st {
	case kservice.StatusRunning:
		return StateRunning, nil
	case kservice.StatusStopped:
		return StateStopped, nil
	}
	return "", errors.New("service state: the service manager did not say")
}
