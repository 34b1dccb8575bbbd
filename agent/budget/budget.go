// Package budget keeps the agent within a CPU budget on the laptop. A
// Governor measures the process's CPU time over a sliding window; while
// the agent uses more than its share, the capture loop pauses in Pace, so
// the kernel's capture buffer overflows and the kernel drops (and counts)
// packets, rather than the agent taking more of the person's machine.
package budget

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Options configure a Governor.
type Options struct {
	// Budget is the share of one core the agent may use on average over
	// Window: 0.05 is 5%.
	Budget float64
	// Window is the span usage is averaged over; 0 means 10s.
	Window time.Duration
	// Step is how often CPU time is sampled; 0 means 1s.
	Step time.Duration
	// Pause is how long Pace sleeps while over budget; 0 means 100ms.
	Pause time.Duration
	// CPUTime returns the process's CPU time so far (user and system);
	// nil means the OS's own count. Tests give a fake.
	CPUTime func() (time.Duration, error)
	// Now is the clock; nil means time.Now. Tests give a fake.
	Now func() time.Time
}

type sample struct {
	at  time.Time
	cpu time.Duration
}

// Governor tracks CPU use and paces the capture loop. Run samples; Over
// and Pace are safe to call from any goroutine.
type Governor struct {
	opts    Options
	samples []sample // ring, owned by Run
	next    int
	filled  bool
	over    atomic.Bool
	usage   atomic.Uint64 // last usage in millionths of a core
	pauses  atomic.Uint64
}

// New returns a Governor for opts. A Budget outside (0, 1] is an error:
// a governor that can never trigger would be a setting that lies.
func New(opts Options) (*Governor, error) {
	if !(opts.Budget > 0 && opts.Budget <= 1) {
		return nil, fmt.Errorf("budget: CPU budget %.3f is not a share of one core in (0, 1]", opts.Budget)
	}
	if opts.Window <= 0 {
		opts.Window = 10 * time.Second
	}
	if opts.Step <= 0 {
		opts.Step = time.Second
	}
	if opts.Pause <= 0 {
		opts.Pause = 100 * time.Millisecond
	}
	if opts.CPUTime == nil {
		opts.CPUTime = processCPUTime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := max(int(opts.Window/opts.Step), 1) + 1
	return &Governor{opts: opts, samples: make([]sample, n)}, nil
}

// Run samples CPU time every Step until ctx ends.
func (g *Governor) Run(ctx context.Context) {
	t := time.NewTicker(g.opts.Step)
	defer t.Stop()
	g.Sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Sample()
		}
	}
}

// Sample takes one measurement and updates Over. Run calls it every
// Step; tests call it directly with a fake clock. It must not be called
// concurrently with itself.
func (g *Governor) Sample() {
	cpu, err := g.opts.CPUTime()
	if err != nil {
		return // no measurement: keep the last verdict rather than guess
	}
	now := g.opts.Now()
	g.samples[g.next] = sample{at: now, cpu: cpu}
	g.next = (g.next + 1) % len(g.samples)
	if g.next == 0 {
		g.filled = true
	}
	oldest := g.samples[0]
	if g.filled {
		oldest = g.samples[g.next]
	}
	wall := now.Sub(oldest.at)
	if wall <= 0 {
		return
	}
	usage := float64(cpu-oldest.cpu) / float64(wall)
	g.usage.Store(uint64(max(usage, 0) * 1e6))
	// Hysteresis: start pacing above the budget, stop only well below it,
	// so the capture does not flap between the two.
	switch {
	case usage > g.opts.Budget:
		g.over.Store(true)
	case usage < 0.8*g.opts.Budget:
		g.over.Store(false)
	}
}

// Over reports whether the agent is over its CPU budget.
func (g *Governor) Over() bool { return g.over.Load() }

// Usage is the share of one core used over the last window.
func (g *Governor) Usage() float64 { return float64(g.usage.Load()) / 1e6 }

// Pauses counts the times Pace slept.
func (g *Governor) Pauses() uint64 { return g.pauses.Load() }

// Pace returns at once within budget; over it, it sleeps for Pause (or
// until ctx ends). The capture loop calls it between reads.
func (g *Governor) Pace(ctx context.Context) {
	if !g.over.Load() {
		return
	}
	g.pauses.Add(1)
	t := time.NewTimer(g.opts.Pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
