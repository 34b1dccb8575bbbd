//go:build !unix

package sqlite

import "time"

// processCPU is not measured off unix; the benchmarks then report 0.
func processCPU() time.Duration { return 0 }
