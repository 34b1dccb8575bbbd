package capture

import (
	"log/slog"
	"time"
)

// defaultSnapLen keeps whole packets: DNS over TCP and large responses
// need every byte, and the capture filter already keeps the volume small.
const defaultSnapLen = 65535

// reattachInterval is how often Live looks for named interfaces that came
// up or went away.
const reattachInterval = 10 * time.Second

// LiveOptions configure Live.
type LiveOptions struct {
	// Interfaces names the interfaces to capture on. Empty means every
	// interface, including ones that come up while capturing.
	Interfaces []string
	// SNI parses TLS and QUIC payloads sent to port 443 (see Decoder.SNI);
	// nil captures DNS only.
	SNI func(payload []byte, quic bool) (string, bool)
	// SnapLen caps the bytes kept of each packet; 0 means 65535.
	SnapLen int
	// Logger receives capture start, stop and error events; nil discards
	// them.
	Logger *slog.Logger
	// OnStatus, when set, is called about every StatusInterval while
	// capturing, with the counters so far and the interfaces being
	// captured, so the agent's heartbeat can report a live capture's
	// health before it stops. It is never called concurrently.
	OnStatus func(LiveStatus)
	// StatusInterval is how often OnStatus is called; 0 means 30s.
	StatusInterval time.Duration
}

// LiveStatus is a live capture's health while it runs.
type LiveStatus struct {
	// Stats are the counters of every capture since Live started,
	// including captures of interfaces that have since gone away.
	Stats Stats
	// Interfaces are the interfaces being captured now; "any" stands for
	// an unbound capture of every interface.
	Interfaces []string
}

// defaultStatusInterval is how often a live capture reports its status
// when LiveOptions.StatusInterval is unset.
const defaultStatusInterval = 30 * time.Second

func (o LiveOptions) withDefaults() LiveOptions {
	if o.SnapLen <= 0 {
		o.SnapLen = defaultSnapLen
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = defaultStatusInterval
	}
	return o
}
