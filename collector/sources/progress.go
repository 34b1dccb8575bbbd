package sources

import (
	"fmt"
	"io"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Progress counts a run's work as it goes, for a terminal and for source
// health. It is safe for concurrent use.
type Progress struct {
	now      func() time.Time
	started  time.Time
	events   atomic.Int64
	imported atomic.Int64
	total    atomic.Int64 // 0: unknown
	mu       sync.Mutex
	stage    string
	skipped  map[string]int64
}

// NewProgress starts counting at now().
func NewProgress(now func() time.Time) *Progress {
	if now == nil {
		now = time.Now
	}
	return &Progress{now: now, started: now()}
}

// AddEvents counts events read (records, rows, messages).
func (p *Progress) AddEvents(n int64) { p.events.Add(n) }

func (p *Progress) addImported(n int64) { p.imported.Add(n) }

// SetTotal tells how many events the run will read, when the importer
// knows (a file's size in rows, a listed count); 0 means unknown.
func (p *Progress) SetTotal(n int64) { p.total.Store(n) }

// SetStage names what the run is doing now ("token events", "users").
func (p *Progress) SetStage(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage = s
}

// Skip counts n records the run read but could not use, by a short
// reason ("too_large", "unreadable"): the run goes on, and source health
// shows the counts.
func (p *Progress) Skip(reason string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.skipped == nil {
		p.skipped = map[string]int64{}
	}
	p.skipped[reason] += n
}

// ProgressSnapshot is a run's progress at one moment.
type ProgressSnapshot struct {
	Stage    string `json:"stage,omitempty"`
	Events   int64  `json:"events"`
	Imported int64  `json:"imported"`
	Total    int64  `json:"total,omitempty"`
	// Skipped counts records skipped so far, by reason.
	Skipped map[string]int64 `json:"skipped,omitempty"`
	Elapsed time.Duration    `json:"elapsed"`
	// Rate is events per second so far.
	Rate float64 `json:"rate"`
	// Left is the time left at the current rate, when Total is known.
	Left time.Duration `json:"left,omitempty"`
}

// Snapshot reads the progress now.
func (p *Progress) Snapshot() ProgressSnapshot {
	p.mu.Lock()
	stage := p.stage
	skipped := maps.Clone(p.skipped)
	p.mu.Unlock()
	s := ProgressSnapshot{Stage: stage, Skipped: skipped, Events: p.events.Load(), Imported: p.imported.Load(), Total: p.total.Load(), Elapsed: p.now().Sub(p.started)}
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.Rate = float64(s.Events) / secs
	}
	if s.Total > s.Events && s.Rate > 0 {
		s.Left = time.Duration(float64(s.Total-s.Events) / s.Rate * float64(time.Second))
	}
	return s
}

// String is the one-line form a terminal shows.
func (s ProgressSnapshot) String() string {
	line := fmt.Sprintf("%d events, %d new, %.0f/s", s.Events, s.Imported, s.Rate)
	if s.Stage != "" {
		line = s.Stage + ": " + line
	}
	if s.Total > 0 {
		line += fmt.Sprintf(", %d%% of %d", min(100, s.Events*100/s.Total), s.Total)
	}
	if s.Left > 0 {
		line += ", about " + s.Left.Round(time.Second).String() + " left"
	}
	return line
}

// Report writes the progress to w every interval until stop is closed,
// then a final line. On a terminal each line overwrites the last.
func (p *Progress) Report(w io.Writer, terminal bool, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	start, end := "", "\n"
	if terminal {
		start, end = "\r", "\x1b[K" // back to the line's start; clear the rest
	}
	for {
		select {
		case <-stop:
			fmt.Fprintf(w, "%s%s%s", start, p.Snapshot(), end)
			if terminal {
				fmt.Fprintln(w) // leave the final line in place
			}
			return
		case <-t.C:
			fmt.Fprintf(w, "%s%s%s", start, p.Snapshot(), end)
		}
	}
}
