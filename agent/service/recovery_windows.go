//go:build windows

package service

import (
	"fmt"
	"time"

	"golang.org/x/sys/windows/svc/mgr"
)

// setRecoveryActions gives the installed Windows service its restart
// schedule: 10 s after the first failure, 60 s after later ones, the
// count reset after a day without failures. kardianos sets a single
// action; the service control manager takes a list.
func setRecoveryActions() error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("recovery actions: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return fmt.Errorf("recovery actions: %w", err)
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 60 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 60 * time.Second},
	}
	if err := s.SetRecoveryActions(actions, recoveryResetSeconds); err != nil {
		return fmt.Errorf("recovery actions: %w", err)
	}
	// Also when the agent exits with an error, not only when it crashes.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("recovery actions: %w", err)
	}
	return nil
}
