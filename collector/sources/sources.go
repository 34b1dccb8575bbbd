package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/signatures"
)

// Importer reads one outside system. Import reads what is new since the
// importer's checkpoints, stores it through env, and moves the
// checkpoints forward only past what is stored, so a failed or cancelled
// run resumes where it stopped and nothing is imported twice (evidence
// dedupe keys make a re-read harmless).
type Importer interface {
	// Name is the source's name in health, logs and `shadowmap import`:
	// google, okta, entra, dnszone, mail.
	Name() string
	Import(ctx context.Context, env *Env) error
}

// EvidenceAdder stores importer evidence (collector.EvidenceStore).
type EvidenceAdder interface {
	AddEvidence(ctx context.Context, ev []collector.Evidence) (inserted int, err error)
}

// IdPAppWriter stores IdP app lists (collector.IdPAppStore).
type IdPAppWriter interface {
	ReplaceIdPApps(ctx context.Context, idp string, apps []collector.IdPApp, at time.Time) error
	AddIdPApps(ctx context.Context, apps []collector.IdPApp) error
}

// GrantWriter keeps OAuth grants current (collector.GrantStore).
type GrantWriter interface {
	UpsertGrants(ctx context.Context, grants []collector.OAuthGrant) error
	RevokeGrant(ctx context.Context, provider, person, clientID string, at time.Time) error
	ReplacePersonGrants(ctx context.Context, provider, person string, grants []collector.OAuthGrant, at time.Time) error
}

// Stores is every store an importer may write to; the SQLite store is
// all of them.
type Stores interface {
	EvidenceAdder
	collector.CheckpointStore
	IdPAppWriter
	GrantWriter
}

// Env is what an importer works with during one run.
type Env struct {
	Stores  Stores
	Catalog *signatures.Catalog
	// Progress counts the run's events; the importer adds to it as it
	// goes and sets a total when it knows one.
	Progress *Progress
	Log      *slog.Logger
	// Now is the clock; importers use it for "since" windows and
	// SeenAt times, so tests can fix it.
	Now func() time.Time
	// HTTP is the client for outside APIs. Tests point importers at
	// httptest servers through their base URLs, never through this.
	HTTP *http.Client
}

// AddEvidence stores evidence and counts the new rows in the run's
// progress.
func (e *Env) AddEvidence(ctx context.Context, ev []collector.Evidence) (int, error) {
	if len(ev) == 0 {
		return 0, nil
	}
	n, err := e.Stores.AddEvidence(ctx, ev)
	if err != nil {
		return n, fmt.Errorf("store evidence: %w", err)
	}
	e.Progress.addImported(int64(n))
	return n, nil
}

// Checkpoint reads the importer's place for key.
func (e *Env) Checkpoint(ctx context.Context, source, key string) (string, bool, error) {
	return e.Stores.Checkpoint(ctx, source, key)
}

// SetCheckpoint stores the importer's place for key.
func (e *Env) SetCheckpoint(ctx context.Context, source, key, value string) error {
	return e.Stores.SetCheckpoint(ctx, source, key, value)
}

// RunRecorder keeps importer runs for source health
// (collector.SourceRunStore).
type RunRecorder interface {
	RecordSourceRun(ctx context.Context, r collector.SourceRun) error
}

// Runner runs importers and records each run.
type Runner struct {
	Stores  Stores
	Runs    RunRecorder
	Catalog *signatures.Catalog
	Log     *slog.Logger
	Now     func() time.Time
	HTTP    *http.Client
}

// Run runs imp once with progress p (a new one when nil) and records the
// run, failed or not. It returns the run and the importer's error.
func (r *Runner) Run(ctx context.Context, imp Importer, p *Progress) (collector.SourceRun, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := r.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	if p == nil {
		p = NewProgress(now)
	}
	env := &Env{Stores: r.Stores, Catalog: r.Catalog, Progress: p, Log: log.With("source", imp.Name()), Now: now, HTTP: hc}
	run := collector.SourceRun{Source: imp.Name(), StartedAt: now()}
	err := imp.Import(ctx, env)
	if err != nil {
		err = fmt.Errorf("import %s: %w", imp.Name(), err)
	}
	snap := p.Snapshot()
	run.FinishedAt, run.Events, run.Imported, run.Skipped = now(), snap.Events, snap.Imported, snap.Skipped
	if err != nil {
		run.Error = err.Error()
	}
	// Record the run even when ctx ended: a cancelled backfill is a run
	// IT should see. A fresh context bounds just this write.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if rerr := r.Runs.RecordSourceRun(rctx, run); rerr != nil {
		return run, errors.Join(err, fmt.Errorf("record %s run: %w", imp.Name(), rerr))
	}
	if err != nil {
		log.Warn("import failed", "source", imp.Name(), "err", err, "events", run.Events, "imported", run.Imported)
	} else {
		log.Info("import done", "source", imp.Name(), "events", run.Events, "imported", run.Imported, "took", run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond))
	}
	return run, err
}
