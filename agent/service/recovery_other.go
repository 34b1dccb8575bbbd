//go:build !windows

package service

// setRecoveryActions is Windows-only: systemd and launchd take their
// restart policy from the unit and plist.
func setRecoveryActions() error { return nil }
