// Package resolver is the agent's opt-in local DNS forwarder, for laptops
// where packet capture is not allowed: it answers on a local address,
// forwards every query to the upstream resolvers the laptop had before,
// and reports the names asked. It never answers on its own: when every
// upstream fails it returns SERVFAIL at once so the system resolver moves
// on, and Healthy lets the caller put the laptop's DNS back when the
// forwarder cannot do its job.
//
// Guard runs the whole mode: it points the system's DNS at the forwarder
// with the previous servers behind it (package dnsconfig does the per-OS
// work), follows network changes, and restores the original settings when
// it stops, when the forwarder dies or when the upstreams keep failing.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Options configure a Forwarder.
type Options struct {
	// Listen is the local address to answer on, e.g. 127.0.0.1:53.
	Listen string
	// Upstreams are the resolvers to forward to, host:port, tried in order.
	// SetUpstreams replaces them while the forwarder runs.
	Upstreams []string
	// Timeout bounds one upstream exchange.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Forwarder is a running local forwarder.
type Forwarder struct {
	opts    Options
	observe func(name string, t time.Time)
	udp     *dns.Server
	tcp     *dns.Server
	client  *dns.Client

	upstreams atomic.Pointer[[]string]
	forwarded atomic.Uint64
	failed    atomic.Uint64
	// failingSince is the unix nanos of the first failed query after the
	// last upstream answer, 0 while upstreams answer.
	failingSince atomic.Int64

	stopped  chan struct{} // closed when either server stops
	stopOnce sync.Once
}

// Start listens on opts.Listen (UDP and TCP) and forwards until Shutdown.
// observe is called with every question name, lowercase without the
// trailing dot, from many goroutines at once.
func Start(opts Options, observe func(name string, t time.Time)) (*Forwarder, error) {
	if len(opts.Upstreams) == 0 {
		return nil, errors.New("resolver: no upstream resolvers to forward to")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{opts: opts, observe: observe, client: &dns.Client{Timeout: opts.Timeout}, stopped: make(chan struct{})}
	ups := slices.Clone(opts.Upstreams)
	f.upstreams.Store(&ups)

	pc, err := net.ListenPacket("udp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("resolver: listen udp %s: %w", opts.Listen, err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("resolver: listen tcp %s: %w", opts.Listen, err)
	}
	handler := dns.HandlerFunc(f.serve)
	f.udp = &dns.Server{PacketConn: pc, Handler: handler}
	f.tcp = &dns.Server{Listener: ln, Handler: handler}
	var started sync.WaitGroup
	started.Add(2)
	f.udp.NotifyStartedFunc = started.Done
	f.tcp.NotifyStartedFunc = started.Done
	go f.run(f.udp)
	go f.run(f.tcp)
	started.Wait()
	return f, nil
}

func (f *Forwarder) run(s *dns.Server) {
	if err := s.ActivateAndServe(); err != nil {
		f.opts.Logger.Warn("resolver stopped", "err", err)
	}
	f.stopOnce.Do(func() { close(f.stopped) })
}

// Done is closed when the forwarder stops answering, whether through
// Shutdown or because a listener failed.
func (f *Forwarder) Done() <-chan struct{} { return f.stopped }

// SetUpstreams replaces the resolvers queries are forwarded to; queries
// already in flight finish with the old list. Safe for concurrent use.
func (f *Forwarder) SetUpstreams(upstreams []string) error {
	if len(upstreams) == 0 {
		return errors.New("resolver: no upstream resolvers to forward to")
	}
	ups := slices.Clone(upstreams)
	f.upstreams.Store(&ups)
	return nil
}

// Upstreams returns the resolvers queries are forwarded to.
func (f *Forwarder) Upstreams() []string { return slices.Clone(*f.upstreams.Load()) }

// Addr is the address the forwarder answers on.
func (f *Forwarder) Addr() string { return f.udp.PacketConn.LocalAddr().String() }

func (f *Forwarder) serve(w dns.ResponseWriter, req *dns.Msg) {
	now := time.Now()
	for _, q := range req.Question {
		if f.observe != nil {
			f.observe(strings.TrimSuffix(strings.ToLower(q.Name), "."), now)
		}
	}
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	for _, up := range *f.upstreams.Load() {
		c := *f.client
		c.Net = network
		resp, _, err := c.Exchange(req, up)
		if err != nil || resp == nil {
			continue
		}
		f.forwarded.Add(1)
		f.failingSince.Store(0)
		w.WriteMsg(resp)
		return
	}
	// Every upstream failed: say so at once, so the system resolver
	// tries its next server instead of waiting on us.
	f.failed.Add(1)
	f.failingSince.CompareAndSwap(0, time.Now().UnixNano())
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	w.WriteMsg(m)
}

// Stats counts forwarded and failed queries.
func (f *Forwarder) Stats() (forwarded, failed uint64) { return f.forwarded.Load(), f.failed.Load() }

// Healthy reports false once queries have failed on every upstream, with
// no upstream answer in between, for at least window. An idle forwarder
// stays healthy: nothing asked, nothing broken. When it is false the
// caller should restore the laptop's previous DNS settings, so a broken
// forwarder never leaves the laptop without DNS.
func (f *Forwarder) Healthy(window time.Duration) bool {
	since := f.failingSince.Load()
	return since == 0 || time.Since(time.Unix(0, since)) < window
}

// Shutdown stops answering.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	return errors.Join(f.udp.ShutdownContext(ctx), f.tcp.ShutdownContext(ctx))
}
