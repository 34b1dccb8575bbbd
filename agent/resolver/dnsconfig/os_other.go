//go:build !linux && !darwin && !windows

package dnsconfig

import (
	"fmt"
	"runtime"
)

// ForOS returns the backend for this operating system.
func ForOS() (System, error) {
	return nil, fmt.Errorf("resolver mode does not support %s", runtime.GOOS)
}
