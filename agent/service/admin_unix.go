//go:build !windows

package service

import "os"

// isAdmin reports whether the process may write service definitions.
func isAdmin() bool { return os.Geteuid() == 0 }

const adminHint = "run it as root (sudo shadowmap-agent service ...)"
