package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gopacket/gopacket/layers"
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
	// Pace, when set, is called after every packet read. The agent's CPU
	// governor sleeps in it while the agent is over its CPU budget, so the
	// kernel's buffer fills and the kernel drops (and counts) packets
	// rather than the agent taking more of the machine.
	Pace func(ctx context.Context)
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

// statusPublishInterval is how often a capture goroutine publishes its
// counters for LiveStatus while packets flow; an idle capture publishes
// whenever its read times out.
const statusPublishInterval = time.Second

// errReadTimeout is returned by a packetReader when no packet arrived for a
// while, so that its goroutine notices cancellation.
var errReadTimeout = errors.New("capture: read timeout")

// errLinkUnsupported is returned (wrapped) by a supervisor's open function
// for an interface whose link type the capture cannot read. The interface
// is skipped until it goes away, without a warning every re-attach.
var errLinkUnsupported = errors.New("link type not supported")

// errBadRecord is returned (wrapped) by a packetReader for bytes from the
// kernel that do not parse; the capture counts it as a link error and reads
// on.
var errBadRecord = errors.New("malformed capture record")

// packetReader is one open capture, read by one goroutine.
type packetReader interface {
	// linkType is the link type of the packets readPacket returns.
	linkType() layers.LinkType
	// readPacket returns the next packet and its capture time; data is
	// valid until the next call. It returns errReadTimeout after a while
	// without packets.
	readPacket() (data []byte, ts time.Time, err error)
	// dropped is the number of packets the kernel dropped so far.
	dropped() (uint64, error)
	close() error
}

// liveKey identifies one capture. An interface removed and created again
// under the same name gets a new index, and so a new capture.
type liveKey struct {
	name  string // "" means all interfaces
	index int
}

func (k liveKey) String() string {
	if k.name == "" {
		return "all interfaces"
	}
	return k.name
}

// statusName is the key's name in LiveStatus.Interfaces.
func (k liveKey) statusName() string {
	if k.name == "" {
		return "any"
	}
	return k.name
}

type liveCapture struct {
	cancel context.CancelFunc
	done   chan struct{}
	// stats is the capture's latest published counters, guarded by the
	// supervisor's mu. It is zeroed when the capture ends and its final
	// counters move to the supervisor's total, so nothing counts twice.
	stats Stats
}

// liveSupervisor starts and stops one capture goroutine per interface (or
// one for all interfaces), re-attaching them as interfaces come and go.
type liveSupervisor struct {
	opts LiveOptions
	// wanted lists the captures that should run now.
	wanted func() ([]liveKey, error)
	// open opens the capture for a key.
	open func(liveKey) (packetReader, error)
	emit func(Observation)

	// Touched by the supervising goroutine only.
	running     map[liveKey]*liveCapture
	unsupported map[liveKey]bool
	wg          sync.WaitGroup

	mu    sync.Mutex // guards total and every liveCapture.stats
	total Stats      // counters of captures that have ended
}

func newLiveSupervisor(o LiveOptions, wanted func() ([]liveKey, error), open func(liveKey) (packetReader, error), emit func(Observation)) *liveSupervisor {
	var emitMu sync.Mutex
	return &liveSupervisor{
		opts:        o,
		wanted:      wanted,
		open:        open,
		running:     make(map[liveKey]*liveCapture),
		unsupported: make(map[liveKey]bool),
		emit: func(obs Observation) {
			emitMu.Lock()
			defer emitMu.Unlock()
			emit(obs)
		},
	}
}

// run supervises the captures until ctx ends and returns their counters.
// It fails only when nothing could be opened at the start.
func (s *liveSupervisor) run(ctx context.Context) (Stats, error) {
	defer s.stopAll()
	if err := s.reconcile(ctx, true); err != nil {
		s.stopAll()
		return s.totals(), err
	}
	reattach := time.NewTicker(reattachInterval)
	defer reattach.Stop()
	var statusC <-chan time.Time
	if s.opts.OnStatus != nil {
		status := time.NewTicker(s.opts.StatusInterval)
		defer status.Stop()
		statusC = status.C
	}
	for {
		select {
		case <-ctx.Done():
			s.stopAll()
			return s.totals(), nil
		case <-reattach.C:
			_ = s.reconcile(ctx, false)
		case <-statusC:
			s.opts.OnStatus(s.status())
		}
	}
}

// reconcile stops captures that ended or whose interface went away and
// starts captures on interfaces that came up. At the start (initial) it
// fails when nothing could be opened.
func (s *liveSupervisor) reconcile(ctx context.Context, initial bool) error {
	keys, err := s.wanted()
	if err != nil {
		s.opts.Logger.Warn("capture: re-attach", "err", err)
		if initial {
			return err
		}
		return nil
	}
	for key, c := range s.running {
		ended := false
		select {
		case <-c.done:
			ended = true
		default:
		}
		if ended || !slices.Contains(keys, key) {
			c.cancel()
			<-c.done
			delete(s.running, key)
			s.opts.Logger.Info("capture: stopped", "interface", key.String())
		}
	}
	for key := range s.unsupported {
		if !slices.Contains(keys, key) {
			delete(s.unsupported, key)
		}
	}
	var errs []error
	for _, key := range keys {
		if _, ok := s.running[key]; ok || s.unsupported[key] {
			continue
		}
		if err := s.start(ctx, key); err != nil {
			if errors.Is(err, errLinkUnsupported) {
				s.unsupported[key] = true
				s.opts.Logger.Info("capture: interface skipped", "interface", key.String(), "reason", err)
				continue
			}
			s.opts.Logger.Warn("capture: start", "interface", key.String(), "err", err)
			errs = append(errs, err)
			continue
		}
		s.opts.Logger.Info("capture: started", "interface", key.String())
	}
	if initial && len(s.running) == 0 {
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		s.opts.Logger.Info("capture: no interface to capture is up yet; waiting", "interfaces", s.opts.Interfaces)
	}
	return nil
}

// start opens the capture for key and reads it on a new goroutine.
func (s *liveSupervisor) start(ctx context.Context, key liveKey) error {
	r, err := s.open(key)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &liveCapture{cancel: cancel, done: make(chan struct{})}
	s.running[key] = c
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(c.done)
		stats, err := s.read(cctx, c, r)
		if err != nil {
			s.opts.Logger.Warn("capture: read", "interface", key.String(), "err", err)
		}
		s.mu.Lock()
		s.total.add(stats)
		c.stats = Stats{}
		s.mu.Unlock()
	}()
	return nil
}

// read decodes packets from r until ctx ends or r fails, then closes r. It
// publishes its counters in c.stats now and then, and returns the final
// ones, which include the kernel's drop count.
func (s *liveSupervisor) read(ctx context.Context, c *liveCapture, r packetReader) (Stats, error) {
	defer r.close()
	dec := NewDecoder(r.linkType())
	dec.SNI = s.opts.SNI
	var badRecords uint64
	snapshot := func() (Stats, error) {
		stats := dec.Stats()
		stats.Errors.Link += badRecords
		dropped, err := r.dropped()
		if err != nil {
			return stats, fmt.Errorf("capture: kernel statistics: %w", err)
		}
		stats.Dropped = dropped
		return stats, nil
	}
	publish := func() {
		stats, _ := snapshot() // a failure shows in the final counters
		s.mu.Lock()
		c.stats = stats
		s.mu.Unlock()
	}
	lastPublish := time.Now()
	var readErr error
	for ctx.Err() == nil {
		data, ts, err := r.readPacket()
		switch {
		case err == nil:
			dec.Decode(data, ts, s.emit)
			if s.opts.Pace != nil {
				s.opts.Pace(ctx)
			}
		case errors.Is(err, errReadTimeout):
		case errors.Is(err, errBadRecord):
			badRecords++
		default:
			readErr = fmt.Errorf("capture: read packet: %w", err)
		}
		if readErr != nil {
			break
		}
		if now := time.Now(); errors.Is(err, errReadTimeout) || now.Sub(lastPublish) >= statusPublishInterval {
			publish()
			lastPublish = now
		}
	}
	stats, err := snapshot()
	return stats, errors.Join(readErr, err)
}

func (s *liveSupervisor) stopAll() {
	for key, c := range s.running {
		c.cancel()
		delete(s.running, key)
	}
	s.wg.Wait()
}

func (s *liveSupervisor) totals() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// status assembles the running totals: the counters of captures that ended
// and the latest published counters of those running, and the interfaces
// captured now, sorted.
func (s *liveSupervisor) status() LiveStatus {
	st := LiveStatus{Interfaces: []string{}}
	s.mu.Lock()
	st.Stats = s.total
	for key, c := range s.running {
		st.Stats.add(c.stats)
		select {
		case <-c.done:
		default:
			st.Interfaces = append(st.Interfaces, key.statusName())
		}
	}
	s.mu.Unlock()
	slices.Sort(st.Interfaces)
	return st
}

// upInterfaces lists the interfaces that are up, only those named when
// names is not empty: one capture each.
func upInterfaces(names []string) ([]liveKey, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("capture: list interfaces: %w", err)
	}
	var keys []liveKey
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || (len(names) > 0 && !slices.Contains(names, iface.Name)) {
			continue
		}
		keys = append(keys, liveKey{name: iface.Name, index: iface.Index})
	}
	return keys, nil
}
