//go:build unix

package sqlite

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used. The
// benchmarks report it per operation: on a shared machine wall time says
// how busy the neighbours are, CPU time says what the store costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
