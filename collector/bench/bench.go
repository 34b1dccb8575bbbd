// Package bench measures the collector the way a fleet uses it: simulated
// agents enroll over loopback and upload realistic gzip batches, and the
// inventory is queried over a seeded database of a large company. It backs
// `shadowmap bench ingest` and `shadowmap bench inventory`; the figures in
// the README come from it, never from timed unit tests.
package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/service"
	"github.com/shadowmap/shadowmap/signatures"
)

// IngestOptions configure an ingest run.
type IngestOptions struct {
	Agents      int           // simulated agents to enroll
	Workers     int           // concurrent uploads at most
	Rate        float64       // target batches per second; 0 = as fast as possible
	Duration    time.Duration // how long to send
	PerBatch    int           // sightings per batch
	DataDir     string        // where the SQLite file goes ("" = a temp dir, removed after)
	Log         *slog.Logger
	Progress    io.Writer // a line every 10 s, or nil
	EnrollDelay time.Duration
}

// IngestResult is what an ingest run measured.
type IngestResult struct {
	Agents       int           `json:"agents"`
	PerBatch     int           `json:"sightings_per_batch"`
	Duration     time.Duration `json:"duration_ns"`
	Batches      int64         `json:"batches_accepted"`
	Errors       int64         `json:"errors"`
	ErrorKinds   map[string]int64
	BatchesPerS  float64       `json:"batches_per_second"`
	SightingsPS  float64       `json:"sightings_per_second"`
	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
	Max          time.Duration `json:"max_ns"`
	DatabaseSize int64         `json:"database_bytes"`
}

func (o *IngestOptions) defaults() {
	if o.Agents <= 0 {
		o.Agents = 500
	}
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.PerBatch <= 0 {
		o.PerBatch = 50
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

const (
	benchSecret = "bench-enroll-secret-0123456789"
	benchAdmin  = "bench-admin-token-0123456789abcdef"
)

// startCollector runs a real collector on a loopback port over a SQLite
// file in dir, with the per-device rate limit lifted: the bench's agents
// upload far more often than real ones do.
func startCollector(ctx context.Context, dir string, log *slog.Logger) (url string, c *service.Collector, stop func() error, err error) {
	env := []string{
		"SHADOWMAP_DATABASE=" + filepath.Join(dir, "shadowmap.db"),
		"SHADOWMAP_ENROLL_SECRET=" + benchSecret,
		"SHADOWMAP_ADMIN_TOKEN=" + benchAdmin,
		"SHADOWMAP_INGEST_RATE_LIMIT=100000",
		"SHADOWMAP_INGEST_BURST=100000",
		"SHADOWMAP_EMAIL_DOMAIN=example.com",
	}
	cfg, err := config.Load("", env, nil)
	if err != nil {
		return "", nil, nil, err
	}
	c, err = service.New(ctx, cfg, log)
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.Close()
		return "", nil, nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Serve(sctx, ln) }()
	stop = func() error {
		cancel()
		err := <-done
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return "http://" + ln.Addr().String(), c, stop, nil
}

// agent is one simulated laptop: its token, its user and the apps it
// uses. Each batch reports some of those apps for today.
type agent struct {
	token string
	user  string
	apps  []appPick
	seq   atomic.Int64
}

type appPick struct {
	id, domain, tenant string
}

// usableApps lists catalog apps with a use domain, so batches look like
// what real agents send.
func usableApps(c *signatures.Catalog) []appPick {
	var out []appPick
	for _, a := range c.Apps {
		for _, d := range a.Domains {
			if d.Role.CountsAsUse() {
				p := appPick{id: a.ID, domain: d.Name}
				if len(a.Tenants) > 0 {
					p.tenant = "acme"
				}
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Ingest runs the ingest benchmark.
func Ingest(ctx context.Context, o IngestOptions) (IngestResult, error) {
	o.defaults()
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "shadowmap-bench-")
		if err != nil {
			return IngestResult{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	url, _, stop, err := startCollector(ctx, dir, o.Log)
	if err != nil {
		return IngestResult{}, fmt.Errorf("start collector: %w", err)
	}
	defer stop()

	catalog, err := signatures.Embedded()
	if err != nil {
		return IngestResult{}, err
	}
	apps := usableApps(catalog)
	transport := &http.Transport{MaxIdleConnsPerHost: o.Workers, MaxConnsPerHost: o.Workers}
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	client := api.NewClient(url, hc)

	rng := rand.New(rand.NewPCG(1, 2))
	agents := make([]*agent, o.Agents)
	for i := range agents {
		resp, err := client.Enroll(ctx, api.EnrollRequest{
			EnrollSecret: benchSecret, Hostname: fmt.Sprintf("laptop-%05d", i), OS: "darwin",
			AgentVersion: "bench", User: fmt.Sprintf("user%05d", i),
		})
		if err != nil {
			return IngestResult{}, fmt.Errorf("enroll agent %d: %w", i, err)
		}
		a := &agent{token: resp.DeviceToken, user: fmt.Sprintf("user%05d", i)}
		// A laptop uses 20 to 60 apps.
		n := 20 + rng.IntN(41)
		for range n {
			a.apps = append(a.apps, apps[rng.IntN(len(apps))])
		}
		agents[i] = a
	}

	res := IngestResult{Agents: o.Agents, PerBatch: o.PerBatch, ErrorKinds: map[string]int64{}}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, 1<<16)
		accepted  atomic.Int64
		failed    atomic.Int64
	)
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	// Tickets pace the workers at the target rate (open loop): a slow
	// server shows up as latency and a missed rate, not as a silently
	// lower offered load.
	tickets := make(chan struct{}, o.Workers)
	go func() {
		defer close(tickets)
		if o.Rate <= 0 {
			for {
				select {
				case tickets <- struct{}{}:
				case <-runCtx.Done():
					return
				}
			}
		}
		interval := time.Duration(float64(time.Second) / o.Rate)
		next := time.Now()
		for {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-runCtx.Done():
					return
				}
			}
			select {
			case tickets <- struct{}{}:
			case <-runCtx.Done():
				return
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	for w := range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrng := rand.New(rand.NewPCG(uint64(w), 7))
			local := make([]time.Duration, 0, 4096)
			enc := newBatchEncoder()
			for range tickets {
				a := agents[wrng.IntN(len(agents))]
				body, err := enc.encode(a, o.PerBatch, wrng, time.Now())
				if err != nil {
					failed.Add(1)
					continue
				}
				t0 := time.Now()
				kind := post(runCtx, hc, url+api.PathSightings, a.token, body)
				d := time.Since(t0)
				if kind == "" {
					accepted.Add(1)
					local = append(local, d)
					continue
				}
				if runCtx.Err() != nil {
					break // cut off by the end of the run, not an error
				}
				failed.Add(1)
				mu.Lock()
				res.ErrorKinds[kind]++
				mu.Unlock()
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	if o.Progress != nil {
		go func() {
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					el := time.Since(start).Seconds()
					fmt.Fprintf(o.Progress, "%3.0fs  %8d batches  %7.0f batches/s  %d errors\n", el, accepted.Load(), float64(accepted.Load())/el, failed.Load())
				}
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	res.Batches = accepted.Load()
	res.Errors = failed.Load()
	res.BatchesPerS = float64(res.Batches) / res.Duration.Seconds()
	res.SightingsPS = res.BatchesPerS * float64(o.PerBatch)
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		res.P50 = latencies[n*50/100]
		res.P99 = latencies[min(n-1, n*99/100)]
		res.Max = latencies[n-1]
	}
	if fi, err := os.Stat(filepath.Join(dir, "shadowmap.db")); err == nil {
		res.DatabaseSize = fi.Size()
	}
	return res, nil
}

// batchEncoder builds gzip-compressed batches, reusing its compressor:
// a new flate writer per batch would cost the load generator more CPU than
// the collector spends storing the batch.
type batchEncoder struct {
	buf bytes.Buffer
	zw  *gzip.Writer
}

func newBatchEncoder() *batchEncoder {
	e := &batchEncoder{}
	e.zw, _ = gzip.NewWriterLevel(&e.buf, gzip.BestSpeed)
	return e
}

// encode builds one batch for an agent: n of its apps, today, with
// counts. The bytes are valid until the next call.
func (e *batchEncoder) encode(a *agent, n int, rng *rand.Rand, now time.Time) ([]byte, error) {
	now = now.UTC()
	b := api.SightingsBatch{
		BatchID:      fmt.Sprintf("%s-%d", a.token[:12], a.seq.Add(1)),
		AgentVersion: "bench",
		Sightings:    make([]api.Sighting, 0, n),
	}
	day := now.Format(time.DateOnly)
	for i := range n {
		p := a.apps[(i+rng.IntN(len(a.apps)))%len(a.apps)]
		src := "dns"
		if i%3 == 0 {
			src = "sni"
		}
		b.Sightings = append(b.Sightings, api.Sighting{
			App: p.id, Domain: p.domain, Tenant: p.tenant, Source: src, User: a.user,
			Day: day, Count: int64(1 + rng.IntN(200)),
			FirstSeen: now.Add(-time.Duration(rng.IntN(3600)) * time.Second), LastSeen: now,
		})
	}
	e.buf.Reset()
	e.zw.Reset(&e.buf)
	if err := json.NewEncoder(e.zw).Encode(b); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// post sends one batch and returns "" on success or a short error kind.
func post(ctx context.Context, hc *http.Client, url, token string, body []byte) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "request"
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := hc.Do(req)
	if err != nil {
		return "network"
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("http_%d", resp.StatusCode)
	}
	return ""
}
