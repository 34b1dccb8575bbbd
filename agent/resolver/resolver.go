// Package resolver is the agent's opt-in local DNS forwarder, for laptops
// where packet capture is not allowed: it answers on a local address,
// forwards every query to the upstream resolvers the laptop had before,
// and reports the names asked. It never answers on its own: when every
// upstream fails it returns SERVFAIL at once so the system resolver moves
// on, and Healthy lets the caller put the laptop's DNS back when the
// forwarder cannot do its job.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

	forwarded atomic.Uint64
	failed    atomic.Uint64
	lastOK    atomic.Int64 // unix nanos of the last upstream answer
}

// Start listens on opts.Listen (UDP and TCP) and forwards until Shutdown.
// observe is called with every question name, lowercase without the
// trailing dot.
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
	f := &Forwarder{opts: opts, observe: observe, client: &dns.Client{Timeout: opts.Timeout}}
	f.lastOK.Store(time.Now().UnixNano())

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
}

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
	for _, up := range f.opts.Upstreams {
		c := *f.client
		c.Net = network
		resp, _, err := c.Exchange(req, up)
		if err != nil || resp == nil {
			continue
		}
		f.forwarded.Add(1)
		f.lastOK.Store(time.Now().UnixNano())
		w.WriteMsg(resp)
		return
	}
	// Every upstream failed: say so at once, so the system resolver
	// tries its next server instead of waiting on us.
	f.failed.Add(1)
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	w.WriteMsg(m)
}

// Stats counts forwarded and failed queries.
func (f *Forwarder) Stats() (forwarded, failed uint64) { return f.forwarded.Load(), f.failed.Load() }

// Healthy reports whether an upstream answered within the window: when it
// is false the caller should restore the laptop's previous DNS settings,
// so a broken forwarder never leaves the laptop without DNS.
func (f *Forwarder) Healthy(window time.Duration) bool {
	return time.Since(time.Unix(0, f.lastOK.Load())) < window
}

// Shutdown stops answering.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	return errors.Join(f.udp.ShutdownContext(ctx), f.tcp.ShutdownContext(ctx))
}
