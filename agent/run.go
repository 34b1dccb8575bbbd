package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/spool"
	"github.com/shadowmap/shadowmap/agent/upload"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/signatures"
)

// Config is what the agent needs to run.
type Config struct {
	CollectorURL string
	EnrollSecret string
	// StateDir holds the spool and the enrollment (0700).
	StateDir string
	// FlushInterval is how often aggregates go to the spool and the
	// spool to the collector.
	FlushInterval time.Duration
	// User is the OS account sightings are attributed to.
	User       string
	Hostname   string
	OS         string
	OwnerEmail string
	// Version is the agent's version, reported to the collector.
	Version string
	Logger  *slog.Logger
	// UnknownDomains turns on the opt-in unknown-domain telemetry:
	// registrable domains that matched no app, with daily counts only.
	UnknownDomains bool
	// OwnDomains are the company's domains (lower-case punycode): the
	// telemetry never reports them or names under them.
	OwnDomains []string
	// Settings is the redacted view of the settings in use, for `status`.
	Settings []config.Entry
}

// Name is a name seen by a packet source.
type Name struct {
	Name   string
	Source aggregate.Source
	Time   time.Time
}

// Source produces names until ctx ends: live capture, or a replayed file
// in tests.
type Source func(ctx context.Context, emit func(Name)) error

// SourceHealth is what a source reports about itself while it runs; the
// agent passes it on in heartbeats and in `status`.
type SourceHealth struct {
	// State is running, degraded (it runs but lost an interface or is
	// shedding load), stopped or not_permitted.
	State      string   `json:"state"`
	Packets    uint64   `json:"packets"`
	Drops      uint64   `json:"drops"`
	Interfaces []string `json:"interfaces,omitempty"`
	LastError  string   `json:"last_error,omitempty"`
}

// queueSize bounds the names waiting between capture and matching: past
// it, names are dropped and counted rather than grow memory.
const queueSize = 4096

// Agent is a running agent.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	catalog *signatures.Catalog
	spool   *spool.Spool
	up      *upload.Uploader
	dropped atomic.Uint64
	// catalogETag is the version of the catalog in use, so a refresh only
	// downloads a catalog the agent does not have.
	catalogETag string

	healthMu     sync.Mutex
	sourceHealth SourceHealth

	// Owned by Run's loop: the apps reported today, for `status`.
	today    map[string]bool
	todayDay string
	matching aggregate.Stats
}

// New opens the agent's state and builds its parts.
func New(cfg Config) (*Agent, error) {
	if cfg.CollectorURL == "" || cfg.EnrollSecret == "" {
		return nil, errors.New("agent: the collector URL and the enroll secret are required")
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	catalog, err := signatures.Embedded()
	if err != nil {
		return nil, err
	}
	etag, err := signatures.ETag(signatures.EmbeddedFS())
	if err != nil {
		return nil, err
	}
	sp, err := spool.Open(filepath.Join(cfg.StateDir, "spool"), spool.Options{})
	if err != nil {
		return nil, fmt.Errorf("agent: open spool: %w", err)
	}
	up := upload.New(api.NewClient(cfg.CollectorURL, nil), sp, upload.Options{
		StateFile: filepath.Join(cfg.StateDir, "enrollment.json"),
		Enroll: api.EnrollRequest{
			EnrollSecret: cfg.EnrollSecret, Hostname: cfg.Hostname, OS: cfg.OS,
			AgentVersion: cfg.Version, OwnerEmail: cfg.OwnerEmail, User: cfg.User,
		},
		Logger: cfg.Logger,
	})
	return &Agent{cfg: cfg, log: cfg.Logger, catalog: catalog, catalogETag: etag, spool: sp, up: up,
		sourceHealth: SourceHealth{State: "running"}}, nil
}

// Close releases the spool.
func (a *Agent) Close() error { return a.spool.Close() }

// Dropped is how many names were dropped because matching fell behind.
func (a *Agent) Dropped() uint64 { return a.dropped.Load() }

// ReportSource records the packet source's health; sources call it now and
// then while they run. It is safe for concurrent use.
func (a *Agent) ReportSource(h SourceHealth) {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	a.sourceHealth = h
}

func (a *Agent) currentSourceHealth() SourceHealth {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	h := a.sourceHealth
	h.Interfaces = append([]string(nil), h.Interfaces...)
	return h
}

// Run captures from src, matches and aggregates on this machine, spools
// the aggregates every FlushInterval, and uploads the spool, until ctx
// ends; it then spools what it counted so nothing is lost on a clean stop.
func (a *Agent) Run(ctx context.Context, src Source) error {
	names := make(chan Name, queueSize)
	var wg sync.WaitGroup
	srcErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		srcErr <- src(ctx, func(n Name) {
			select {
			case names <- n:
			default:
				a.dropped.Add(1) // never block capture, never grow
			}
		})
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.up.Run(ctx, a.cfg.FlushInterval)
	}()
	catalogs := make(chan *signatures.Catalog, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.keepInTouch(ctx, catalogs)
	}()

	var aggOpts []aggregate.Option
	if a.cfg.UnknownDomains {
		aggOpts = append(aggOpts, aggregate.WithUnknownDomains(aggregate.UnknownDomainOptions{OwnDomains: a.cfg.OwnDomains}))
	}
	agg := aggregate.New(a.catalog, aggOpts...)
	a.today = map[string]bool{}
	tick := time.NewTicker(a.cfg.FlushInterval)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case n := <-names:
			agg.Observe(n.Name, n.Source, a.cfg.User, n.Time)
		case c := <-catalogs:
			a.catalog = c
			agg.SetCatalog(c)
		case <-tick.C:
			if err := a.flush(agg); err != nil {
				a.log.Error("spool sightings", "err", err)
			}
		case err := <-srcErr:
			if err != nil && ctx.Err() == nil {
				runErr = fmt.Errorf("capture: %w", err)
				h := a.currentSourceHealth()
				h.State, h.LastError = "stopped", runErr.Error()
				a.ReportSource(h)
			}
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	// Drain what capture already handed over, then spool it.
	for {
		select {
		case n := <-names:
			agg.Observe(n.Name, n.Source, a.cfg.User, n.Time)
			continue
		default:
		}
		break
	}
	if err := a.flush(agg); err != nil {
		a.log.Error("spool sightings", "err", err)
	}
	wg.Wait()
	return runErr
}

// keepInTouch sends a heartbeat and checks for a newer catalog every
// FlushInterval, so IT sees the agent's health and new signatures reach
// laptops without a reinstall.
func (a *Agent) keepInTouch(ctx context.Context, catalogs chan<- *signatures.Catalog) {
	etag := a.catalogETag
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		client, err := a.up.Authorized(ctx)
		if err != nil {
			continue // the uploader logs enrollment failures
		}
		sp := a.spool.Stats()
		src := a.currentSourceHealth()
		if err := client.Heartbeat(ctx, api.Heartbeat{
			AgentVersion: a.cfg.Version, CaptureState: src.State, PacketsSeen: src.Packets,
			// Drops are names lost anywhere on the laptop: in the
			// kernel's capture buffer or in the queue before matching.
			Drops: src.Drops + a.dropped.Load(), SpoolDepth: sp.Batches, LastError: src.LastError,
			Interfaces: src.Interfaces,
		}); err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat failed", "err", err)
		}
		bundle, newETag, notModified, err := client.Catalog(ctx, etag)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				a.log.Warn("catalog refresh failed", "err", err)
			}
		case notModified:
		default:
			c, err := signatures.LoadBundle(bundle)
			if err != nil {
				a.log.Warn("catalog from the collector does not load; keeping the current one", "err", err)
				continue
			}
			etag = newETag
			select {
			case catalogs <- c:
				a.log.Info("catalog updated", "apps", len(c.Apps))
				// The old catalog and the parse garbage are freed now;
				// hand the memory back rather than keep it resident.
				debug.FreeOSMemory()
			case <-ctx.Done():
				return
			}
		}
	}
}

// flush moves the aggregates into the spool as batches of at most
// api.MaxSightings, each with a fresh id kept across retries.
func (a *Agent) flush(agg *aggregate.Aggregator) error {
	a.matching = agg.Stats()
	sightings, unknown := agg.FlushAll()
	day := time.Now().UTC().Format(time.DateOnly)
	if day != a.todayDay {
		a.todayDay, a.today = day, map[string]bool{}
	}
	for _, s := range sightings {
		if s.Day == day {
			if app := a.catalog.App(s.App); app != nil {
				a.today[app.Name] = true
			}
		}
	}
	defer a.saveStatus()
	for len(sightings) > 0 || len(unknown) > 0 {
		n, u := min(len(sightings), api.MaxSightings), min(len(unknown), api.MaxUnknownDomains)
		id, err := batchID()
		if err != nil {
			return err
		}
		b := api.SightingsBatch{BatchID: id, AgentVersion: a.cfg.Version, Sightings: sightings[:n]}
		if u > 0 {
			b.UnknownDomains = unknown[:u]
		}
		if err := a.spool.Put(b); err != nil {
			return err
		}
		sightings, unknown = sightings[n:], unknown[u:]
	}
	return nil
}

func (a *Agent) saveStatus() {
	sp := a.spool.Stats()
	st := Status{
		Collector: a.cfg.CollectorURL, Updated: time.Now().UTC(), LastFlush: time.Now().UTC(),
		SpoolBatches: sp.Batches, SpoolBytes: sp.Bytes, Dropped: a.dropped.Load(), Matching: a.matching,
		Capture: a.currentSourceHealth(), Settings: a.cfg.Settings,
	}
	for name := range a.today {
		st.AppsToday = append(st.AppsToday, name)
	}
	if err := writeStatus(a.cfg.StateDir, st); err != nil {
		a.log.Warn("save status", "err", err)
	}
}

// batchID is a time-ordered random id: sortable for people reading logs,
// unique without coordination.
func batchID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x-%s", time.Now().UTC().Unix(), hex.EncodeToString(b[:])), nil
}
