package sources

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestProgressSnapshot(t *testing.T) {
	clock := newFakeClock()
	p := NewProgress(clock.Now)

	s := p.Snapshot()
	if s.Rate != 0 || s.Left != 0 || s.Elapsed != 0 {
		t.Errorf("at the start: %+v", s)
	}
	if got := s.String(); got != "0 events, 0 new, 0/s" {
		t.Errorf("String() at the start = %q", got)
	}

	p.SetStage("token events")
	p.AddEvents(100)
	p.addImported(40)
	clock.Advance(10 * time.Second)
	s = p.Snapshot()
	if s.Events != 100 || s.Imported != 40 || s.Elapsed != 10*time.Second || s.Rate != 10 || s.Left != 0 {
		t.Errorf("without a total: %+v", s)
	}
	if got, want := s.String(), "token events: 100 events, 40 new, 10/s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	p.SetTotal(400)
	s = p.Snapshot()
	if s.Left != 30*time.Second {
		t.Errorf("left %v, want 30s (300 events at 10/s)", s.Left)
	}
	if got, want := s.String(), "token events: 100 events, 40 new, 10/s, 25% of 400, about 30s left"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	// More events than announced: 100%, nothing left.
	p.AddEvents(350)
	clock.Advance(5 * time.Second)
	s = p.Snapshot()
	if s.Left != 0 {
		t.Errorf("left %v past the total", s.Left)
	}
	if got, want := s.String(), "token events: 450 events, 40 new, 30/s, 100% of 400"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestProgressConcurrent(t *testing.T) {
	p := NewProgress(nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				p.AddEvents(1)
				p.addImported(1)
				p.SetStage("x")
				_ = p.Snapshot()
			}
		})
	}
	wg.Wait()
	if s := p.Snapshot(); s.Events != 8000 || s.Imported != 8000 {
		t.Errorf("counts %+v, want 8000", s)
	}
}

func TestProgressReport(t *testing.T) {
	clock := newFakeClock()
	p := NewProgress(clock.Now)
	p.AddEvents(20)
	clock.Advance(2 * time.Second)
	stop := make(chan struct{})
	close(stop)

	var plain bytes.Buffer
	p.Report(&plain, false, time.Hour, stop)
	if got, want := plain.String(), "20 events, 0 new, 10/s\n"; got != want {
		t.Errorf("plain report %q, want %q", got, want)
	}
	var term bytes.Buffer
	p.Report(&term, true, time.Hour, stop)
	if got, want := term.String(), "\r20 events, 0 new, 10/s\x1b[K\n"; got != want {
		t.Errorf("terminal report %q, want %q", got, want)
	}
}
