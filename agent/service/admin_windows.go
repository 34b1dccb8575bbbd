//go:build windows

package service

import "golang.org/x/sys/windows"

// isAdmin reports whether the process may write service definitions: an
// elevated administrator token.
func isAdmin() bool { return windows.GetCurrentProcessToken().IsElevated() }

const adminHint = "run it from an elevated (Run as administrator) prompt"
