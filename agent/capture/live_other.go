//go:build !linux

package capture

import (
	"context"
	"errors"
	"runtime"
)

// Live is not implemented on this OS yet: the macOS BPF device and Windows
// DNS-Client event sources are still to come. Replay captures with ReadPcap.
func Live(ctx context.Context, o LiveOptions, emit func(Observation)) (Stats, error) {
	return Stats{}, errors.New("capture: live capture is not implemented on " + runtime.GOOS + " yet")
}
