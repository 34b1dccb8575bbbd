package server

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-device limiter table: past it, limiters idle
// for a while are dropped (an idle device starts again with a full burst,
// which is harmless).
const maxLimiters = 200_000

// limiterIdle is how long an unused limiter is kept once the table is full.
const limiterIdle = 10 * time.Minute

// deviceLimiter rate-limits uploads per device.
type deviceLimiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*limiterEntry
}

type limiterEntry struct {
	l    *rate.Limiter
	last time.Time
}

func newDeviceLimiter(perSecond float64, burst int, now func() time.Time) *deviceLimiter {
	return &deviceLimiter{rate: rate.Limit(perSecond), burst: burst, now: now, m: make(map[string]*limiterEntry)}
}

func (d *deviceLimiter) allow(device string) bool {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m[device]
	if e == nil {
		if len(d.m) >= maxLimiters {
			d.sweep(now)
		}
		e = &limiterEntry{l: rate.NewLimiter(d.rate, d.burst)}
		d.m[device] = e
	}
	e.last = now
	return e.l.AllowN(now, 1)
}

// sweep drops idle limiters; it runs with mu held, only when the table is
// full.
func (d *deviceLimiter) sweep(now time.Time) {
	for k, e := range d.m {
		if now.Sub(e.last) > limiterIdle {
			delete(d.m, k)
		}
	}
}

// retryAfterSeconds is when a limited device may try again: the time one
// token takes to come back.
func (d *deviceLimiter) retryAfterSeconds() int {
	if d.rate <= 0 {
		return 60
	}
	return int(math.Ceil(1 / float64(d.rate)))
}
