package budget

import (
	"context"
	"testing"
	"time"
)

// fakeProcess is a clock and a CPU counter the test advances by hand.
type fakeProcess struct {
	now time.Time
	cpu time.Duration
}

func (f *fakeProcess) tick(wall, cpu time.Duration) {
	f.now = f.now.Add(wall)
	f.cpu += cpu
}

func TestGovernorVerdicts(t *testing.T) {
	type step struct {
		cpuPerSecond time.Duration // CPU used during one second of wall time
		seconds      int
		wantOver     bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"idle stays under", []step{{time.Millisecond, 20, false}}},
		{"busy goes over", []step{{time.Millisecond, 10, false}, {200 * time.Millisecond, 3, true}}},
		{"a short burst averaged over the window stays under", []step{{time.Millisecond, 10, false}, {40 * time.Millisecond, 1, false}, {time.Millisecond, 5, false}}},
		{"back under only well below the budget", []step{
			{300 * time.Millisecond, 10, true},
			{45 * time.Millisecond, 10, true}, // 4.5%: under 5% but above 4%, still pacing
			{10 * time.Millisecond, 10, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProcess{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
			g, err := New(Options{
				Budget: 0.05, Window: 10 * time.Second, Step: time.Second,
				CPUTime: func() (time.Duration, error) { return p.cpu, nil },
				Now:     func() time.Time { return p.now },
			})
			if err != nil {
				t.Fatal(err)
			}
			g.Sample()
			for i, s := range tt.steps {
				for range s.seconds {
					p.tick(time.Second, s.cpuPerSecond)
					g.Sample()
				}
				if g.Over() != s.wantOver {
					t.Fatalf("after step %d: over = %v at usage %.3f, want %v", i, g.Over(), g.Usage(), s.wantOver)
				}
			}
		})
	}
}

func TestGovernorRejectsMeaninglessBudgets(t *testing.T) {
	for _, b := range []float64{0, -0.1, 1.5} {
		if _, err := New(Options{Budget: b}); err == nil {
			t.Errorf("budget %v accepted", b)
		}
	}
}

func TestPaceSleepsOnlyWhenOver(t *testing.T) {
	p := &fakeProcess{now: time.Now()}
	g, err := New(Options{
		Budget: 0.05, Pause: time.Millisecond,
		CPUTime: func() (time.Duration, error) { return p.cpu, nil },
		Now:     func() time.Time { return p.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g.Sample()
	g.Pace(ctx)
	if g.Pauses() != 0 {
		t.Fatal("paced while idle")
	}
	p.tick(time.Second, time.Second)
	g.Sample()
	g.Pace(ctx)
	if !g.Over() || g.Pauses() != 1 {
		t.Fatalf("over=%v pauses=%d after a second of full CPU", g.Over(), g.Pauses())
	}
	// A cancelled context ends a pause at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g.opts.Pause = time.Hour
	g.Pace(cctx)
}

func TestProcessCPUTimeCountsWork(t *testing.T) {
	before, err := processCPUTime()
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the OS's counter moves (its resolution can be a
	// scheduler tick), bounded so a broken counter fails rather than hangs.
	x := uint64(1)
	for i := 0; i < 2_000_000_000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		if i%1_000_000 == 0 {
			if after, _ := processCPUTime(); after > before {
				return
			}
		}
	}
	t.Fatalf("process CPU time did not move after a busy loop (%d)", x)
}
