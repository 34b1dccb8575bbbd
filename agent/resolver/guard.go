package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/shadowmap/shadowmap/agent/privdir"
	"github.com/shadowmap/shadowmap/agent/resolver/dnsconfig"
)

// Why a Guard stopped on its own.
var (
	ErrUpstreamsFailing = errors.New("resolver: upstream resolvers keep failing")
	ErrForwarderStopped = errors.New("resolver: local forwarder stopped")
	ErrNoUpstreams      = errors.New("resolver: the system has no DNS servers to forward to")
)

// DNSSettings reads and changes the system's DNS servers (see dnsconfig).
type DNSSettings interface {
	Read(ctx context.Context) (dnsconfig.Settings, error)
	Apply(ctx context.Context, local netip.Addr, original dnsconfig.Settings) error
	Restore(ctx context.Context, s dnsconfig.Settings) error
}

// GuardOptions configure a Guard.
type GuardOptions struct {
	// Settings is the system's DNS configuration (dnsconfig.ForOS).
	Settings DNSSettings
	// StatePath is where the original settings are saved (0600) before
	// anything changes, so a crashed agent puts them back at next start.
	StatePath string
	// Listen is the forwarder's address; default 127.0.0.1:53. Its IP is
	// what the system is pointed at.
	Listen string
	// UpstreamPort is the port of the previous servers; default 53.
	UpstreamPort string
	// Poll is how often the settings are checked for changes made by the
	// user or DHCP; default 10 s.
	Poll time.Duration
	// HealthEvery is how often the forwarder's health is checked;
	// default 2 s.
	HealthEvery time.Duration
	// UnhealthyAfter is how long the upstreams may keep failing before the
	// original settings are put back; default 30 s.
	UnhealthyAfter time.Duration
	// Timeout bounds one upstream exchange; default 2 s.
	Timeout time.Duration
	// RestoreTimeout bounds putting the settings back after ctx is done;
	// default 30 s.
	RestoreTimeout time.Duration
	Logger         *slog.Logger
}

// Guard runs resolver mode end to end: it points the system's DNS at a
// local forwarder, keeps the previous servers behind it so the system
// falls through to them even if the agent is killed, and puts the
// original settings back when it stops, when the forwarder dies or when
// the upstreams keep failing.
type Guard struct {
	opts GuardOptions
	// started, when set by tests, sees the forwarder once it runs.
	started func(*Forwarder)
}

// NewGuard returns a Guard; Run starts it.
func NewGuard(opts GuardOptions) *Guard {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:53"
	}
	if opts.UpstreamPort == "" {
		opts.UpstreamPort = "53"
	}
	if opts.Poll <= 0 {
		opts.Poll = 10 * time.Second
	}
	if opts.HealthEvery <= 0 {
		opts.HealthEvery = 2 * time.Second
	}
	if opts.UnhealthyAfter <= 0 {
		opts.UnhealthyAfter = 30 * time.Second
	}
	if opts.RestoreTimeout <= 0 {
		opts.RestoreTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{opts: opts}
}

// savedState is the state file: the settings to go back to and, once
// known, what we applied (to tell our changes from later ones).
type savedState struct {
	Original dnsconfig.Settings  `json:"original"`
	Applied  *dnsconfig.Settings `json:"applied,omitempty"`
}

// Run puts back settings left by a crash, reads the current servers,
// starts the forwarder, points the system at it and watches until ctx is
// done or something fails; it always restores the settings before it
// returns. It returns nil after ctx is done, otherwise why it stopped.
// If the forwarder cannot listen (something else answers on the port)
// the system's settings are not touched.
func (g *Guard) Run(ctx context.Context, observe func(name string, t time.Time)) (err error) {
	log := g.opts.Logger
	local, err := g.localAddr()
	if err != nil {
		return err
	}
	if err := g.restoreLeftover(ctx, local); err != nil {
		return err
	}

	original, err := g.opts.Settings.Read(ctx)
	if err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	upstreams := g.upstreams(original, local)
	if len(upstreams) == 0 {
		return ErrNoUpstreams
	}
	fwd, err := Start(Options{Listen: g.opts.Listen, Upstreams: upstreams, Timeout: g.opts.Timeout, Logger: log}, observe)
	if err != nil {
		return err // nothing changed yet
	}
	if g.started != nil {
		g.started(fwd)
	}
	state := savedState{Original: original}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.opts.RestoreTimeout)
		defer cancel()
		if rerr := g.restore(rctx, state, local); rerr != nil {
			err = errors.Join(err, rerr)
		} else {
			log.Info("resolver mode: DNS settings restored")
		}
		if serr := fwd.Shutdown(rctx); serr != nil {
			log.Warn("resolver mode: forwarder shutdown", "err", serr)
		}
	}()
	if err := g.apply(ctx, &state, local); err != nil {
		return err
	}
	log.Info("resolver mode: DNS points at the local forwarder", "listen", fwd.Addr(), "upstreams", upstreams)

	poll := time.NewTicker(g.opts.Poll)
	defer poll.Stop()
	health := time.NewTicker(g.opts.HealthEvery)
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fwd.Done():
			return ErrForwarderStopped
		case <-health.C:
			if !fwd.Healthy(g.opts.UnhealthyAfter) {
				return ErrUpstreamsFailing
			}
		case <-poll.C:
			if err := g.follow(ctx, &state, local, fwd); err != nil {
				return err
			}
		}
	}
}

// follow notices settings changed by the user or DHCP since we applied
// them: the changed entries become the new originals, their servers the
// forwarder's upstreams, and the settings are applied again.
func (g *Guard) follow(ctx context.Context, state *savedState, local netip.Addr, fwd *Forwarder) error {
	current, err := g.opts.Settings.Read(ctx)
	if err != nil {
		// A transient failure to read is not a reason to give up DNS.
		g.opts.Logger.Warn("resolver mode: read DNS settings", "err", err)
		return nil
	}
	// Run only follows once apply succeeded, so Applied is set.
	if current.Equal(*state.Applied) {
		return nil
	}
	next, changed := dnsconfig.Reconcile(state.Original, state.Applied, current, local)
	if !changed {
		// Only our own entries moved in ways that do not matter
		// (nothing to forward differently): remember them.
		state.Applied = &current
		return g.save(*state)
	}
	upstreams := g.upstreams(next, local)
	if len(upstreams) == 0 {
		return ErrNoUpstreams
	}
	g.opts.Logger.Info("resolver mode: DNS settings changed, applying again", "upstreams", upstreams)
	if err := fwd.SetUpstreams(upstreams); err != nil {
		return err
	}
	state.Original = next
	return g.apply(ctx, state, local)
}

// apply saves the original settings, then changes the system, then saves
// what it looks like now so later changes by others can be told apart.
func (g *Guard) apply(ctx context.Context, state *savedState, local netip.Addr) error {
	state.Applied = nil
	if err := g.save(*state); err != nil {
		return err
	}
	if err := g.opts.Settings.Apply(ctx, local, state.Original); err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	applied, err := g.opts.Settings.Read(ctx)
	if err != nil {
		return fmt.Errorf("resolver: read DNS settings after applying: %w", err)
	}
	state.Applied = &applied
	return g.save(*state)
}

// restore puts back the original settings where they are still as we
// applied them, then removes the state file.
func (g *Guard) restore(ctx context.Context, state savedState, local netip.Addr) error {
	current, err := g.opts.Settings.Read(ctx)
	want := state.Original
	if err == nil {
		want, _ = dnsconfig.Reconcile(state.Original, state.Applied, current, local)
		want = dnsconfig.Differing(want, current)
	}
	if len(want.Entries) > 0 {
		if err := g.opts.Settings.Restore(ctx, want); err != nil {
			return fmt.Errorf("resolver: restore DNS settings: %w", err)
		}
	}
	if err := os.Remove(g.opts.StatePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("resolver: remove saved DNS settings: %w", err)
	}
	return nil
}

// RestoreLeftover puts back DNS settings that a resolver-mode run left
// behind when it did not finish (the agent was killed, the laptop lost
// power), without starting anything. The agent calls it at start when
// resolver mode is off, so turning the mode off after a crash still hands
// the laptop back its own settings. No saved state is nothing to do.
func (g *Guard) RestoreLeftover(ctx context.Context) error {
	local, err := g.localAddr()
	if err != nil {
		return err
	}
	return g.restoreLeftover(ctx, local)
}

// localAddr is the IP of the forwarder's listen address: what the system
// is pointed at, and what is never an upstream.
func (g *Guard) localAddr() (netip.Addr, error) {
	host, _, err := net.SplitHostPort(g.opts.Listen)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolver: listen address %q: %w", g.opts.Listen, err)
	}
	local, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolver: listen address %q must be an IP: %w", g.opts.Listen, err)
	}
	return local, nil
}

// restoreLeftover puts back settings saved by a run that did not finish.
func (g *Guard) restoreLeftover(ctx context.Context, local netip.Addr) error {
	data, err := os.ReadFile(g.opts.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolver: read saved DNS settings: %w", err)
	}
	var state savedState
	if err := json.Unmarshal(data, &state); err != nil {
		// Not ours to interpret: leave it for a person, touch nothing.
		return fmt.Errorf("resolver: saved DNS settings in %s are unreadable, fix or remove the file: %w", g.opts.StatePath, err)
	}
	g.opts.Logger.Warn("resolver mode: putting back DNS settings left by an earlier run", "state", g.opts.StatePath)
	return g.restore(ctx, state, local)
}

// save writes the state file atomically with mode 0600.
func (g *Guard) save(state savedState) error {
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("resolver: encode DNS settings: %w", err)
	}
	dir := filepath.Dir(g.opts.StatePath)
	if err := privdir.MkdirAll(dir); err != nil {
		return fmt.Errorf("resolver: save DNS settings: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(g.opts.StatePath)+".*")
	if err != nil {
		return fmt.Errorf("resolver: save DNS settings: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), g.opts.StatePath)
	}
	if err != nil {
		return fmt.Errorf("resolver: save DNS settings to %s: %w", g.opts.StatePath, err)
	}
	return nil
}

func (g *Guard) upstreams(s dnsconfig.Settings, local netip.Addr) []string {
	var out []string
	for _, a := range dnsconfig.Servers(s, local) {
		out = append(out, net.JoinHostPort(a.String(), g.opts.UpstreamPort))
	}
	return out
}
