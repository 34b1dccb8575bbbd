package sources

import (
	"context"
	"maps"
	"sync"
	"time"
)

// Scheduler runs importers one after another every Interval inside
// `serve`, and shows the progress of the run in flight.
type Scheduler struct {
	Runner    *Runner
	Importers []Importer
	// Build, when set, makes the importers at the start of each round in
	// place of Importers, so credentials changed in the web view apply at
	// the next round without a restart. A round whose Build fails is
	// logged and skipped.
	Build func(ctx context.Context) ([]Importer, error)
	// Interval is the time between the starts of two rounds.
	Interval time.Duration
	// FirstDelay is how long after start the first round begins, so the
	// server is up before importers call out.
	FirstDelay time.Duration

	mu      sync.Mutex
	running map[string]*Progress
}

// Run runs rounds until ctx ends. A failing importer is recorded and the
// others still run; one that is still running when the next round is due
// delays that round rather than running twice at once.
func (s *Scheduler) Run(ctx context.Context) {
	if s.Build == nil && len(s.Importers) == 0 {
		return
	}
	wait := s.FirstDelay
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		start := time.Now()
		s.RunOnce(ctx)
		wait = max(s.Interval-time.Since(start), time.Second)
	}
}

// RunOnce runs every importer once, in order.
func (s *Scheduler) RunOnce(ctx context.Context) {
	importers := s.Importers
	if s.Build != nil {
		built, err := s.Build(ctx)
		if err != nil {
			if s.Runner.Log != nil && ctx.Err() == nil {
				s.Runner.Log.Error("importers: build failed; round skipped", "err", err)
			}
			return
		}
		importers = built
	}
	for _, imp := range importers {
		if ctx.Err() != nil {
			return
		}
		p := NewProgress(s.Runner.Now)
		s.setRunning(imp.Name(), p)
		_, _ = s.Runner.Run(ctx, imp, p) // recorded in source health and logged
		s.setRunning(imp.Name(), nil)
	}
}

func (s *Scheduler) setRunning(name string, p *Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[string]*Progress{}
	}
	if p == nil {
		delete(s.running, name)
		return
	}
	s.running[name] = p
}

// Running returns the progress of the importers running now, by name.
func (s *Scheduler) Running() map[string]ProgressSnapshot {
	s.mu.Lock()
	running := maps.Clone(s.running)
	s.mu.Unlock()
	out := make(map[string]ProgressSnapshot, len(running))
	for name, p := range running {
		out[name] = p.Snapshot()
	}
	return out
}
