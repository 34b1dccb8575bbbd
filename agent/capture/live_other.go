//go:build !linux && !darwin && !windows

package capture

import (
	"context"
	"errors"
	"runtime"
)

// Live is not implemented on this OS: the agent supports Linux, macOS and
// Windows. Replay captures with ReadPcap.
func Live(ctx context.Context, o LiveOptions, emit func(Observation)) (Stats, error) {
	return Stats{}, errors.New("capture: live capture is not implemented on " + runtime.GOOS)
}
