// Package upload moves the agent's spooled batches to the collector:
// enroll once (the device token is kept 0600 on disk), then send each
// batch, oldest first, and acknowledge it in the spool only after the
// collector has stored it. Failures back off exponentially with jitter; a
// 401 re-enrolls, a 413 splits the batch, a 429 waits as long as asked.
package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shadowmap/shadowmap/agent/privdir"
	"github.com/shadowmap/shadowmap/collector/api"
)

// Queue is the spool as the uploader uses it.
type Queue interface {
	// Next returns the oldest batch not yet acknowledged.
	Next() (api.SightingsBatch, bool, error)
	Ack(batchID string) error
	Put(b api.SightingsBatch) error
}

// Options configure an Uploader.
type Options struct {
	// StateFile keeps the device id and token (mode 0600).
	StateFile string
	// Enroll is what the agent enrolls with; its secret comes from the
	// agent's configuration or MDM.
	Enroll api.EnrollRequest
	// MinBackoff and MaxBackoff bound the wait after a failure.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	// Sleep waits, or returns early when ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Uploader sends spooled batches.
type Uploader struct {
	client *api.Client
	queue  Queue
	opts   Options
	log    *slog.Logger
	rng    *rand.Rand

	// mu guards state: Drain and Authorized may run in different
	// goroutines, and two concurrent enrollments would create two devices.
	mu      sync.Mutex
	state   State
	failure int // consecutive failures, for the backoff; Drain's only
}

// State is what enrollment gave the device.
type State struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

// New builds an Uploader for the collector client and queue.
func New(client *api.Client, q Queue, o Options) *Uploader {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return &Uploader{client: client, queue: q, opts: o, log: o.Logger, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadState reads the saved enrollment, if any.
func (u *Uploader) loadState() error {
	b, err := os.ReadFile(u.opts.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read agent state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("read agent state %s: %w", u.opts.StateFile, err)
	}
	u.state = s
	return nil
}

// saveState writes the enrollment atomically, readable by the agent only.
func (u *Uploader) saveState() error {
	b, err := json.Marshal(u.state)
	if err != nil {
		return err
	}
	if err := privdir.MkdirAll(filepath.Dir(u.opts.StateFile)); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	tmp := u.opts.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	if err := os.Rename(tmp, u.opts.StateFile); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	return nil
}

// token returns the device token, enrolling first if needed (or again,
// when force is set).
func (u *Uploader) token(ctx context.Context, force bool) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.enroll(ctx, force); err != nil {
		return "", err
	}
	return u.state.DeviceToken, nil
}

// enroll gets a device token, unless one is saved. Call with mu held.
func (u *Uploader) enroll(ctx context.Context, force bool) error {
	if !force && u.state.DeviceToken == "" {
		if err := u.loadState(); err != nil {
			return err
		}
	}
	if !force && u.state.DeviceToken != "" {
		return nil
	}
	resp, err := u.client.Enroll(ctx, u.opts.Enroll)
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	u.state = State{DeviceID: resp.DeviceID, DeviceToken: resp.DeviceToken}
	u.log.Info("enrolled with the collector", "device", resp.DeviceID)
	return u.saveState()
}

// Drain sends every spooled batch, in order, until the spool is empty or
// sending fails in a way worth waiting for; it then returns how long to
// wait before trying again (0 when the spool is empty).
func (u *Uploader) Drain(ctx context.Context) (sent int, wait time.Duration, err error) {
	token, err := u.token(ctx, false)
	if err != nil {
		return 0, u.backoff(0), err
	}
	for {
		b, ok, err := u.queue.Next()
		if err != nil {
			return sent, u.backoff(0), fmt.Errorf("read spool: %w", err)
		}
		if !ok {
			u.failure = 0
			return sent, 0, nil
		}
		_, err = u.client.WithToken(token).SendSightings(ctx, b)
		var he *api.HTTPError
		switch {
		case err == nil:
			if err := u.queue.Ack(b.BatchID); err != nil {
				return sent, u.backoff(0), fmt.Errorf("ack %s: %w", b.BatchID, err)
			}
			sent++
			u.failure = 0
		case errors.As(err, &he) && he.Status == http.StatusUnauthorized:
			// The collector forgot us (a restored database) or the
			// token is wrong: enroll again and retry at once.
			u.log.Warn("collector refused the device token; enrolling again")
			if token, err = u.token(ctx, true); err != nil {
				return sent, u.backoff(0), err
			}
		case errors.Is(err, api.ErrTooLarge):
			if err := u.split(b); err != nil {
				return sent, u.backoff(0), err
			}
		case errors.As(err, &he) && he.Status == http.StatusTooManyRequests:
			return sent, u.backoff(he.RetryAfter), err
		case api.IsRetryable(err):
			return sent, u.backoff(0), err
		default:
			// A batch the collector will never take (400: an app the
			// collector's catalog does not know, a day too old): drop it
			// rather than block every batch behind it.
			u.log.Warn("collector rejected a batch; dropping it", "batch", b.BatchID, "err", err)
			if err := u.queue.Ack(b.BatchID); err != nil {
				return sent, u.backoff(0), fmt.Errorf("ack %s: %w", b.BatchID, err)
			}
		}
	}
}

// split replaces a batch the collector found too large with two halves,
// each with half the sightings and half the unknown-domain counts.
func (u *Uploader) split(b api.SightingsBatch) error {
	if len(b.Sightings) < 2 && len(b.UnknownDomains) < 2 {
		u.log.Warn("a batch of one record is too large; dropping it", "batch", b.BatchID)
		return u.queue.Ack(b.BatchID)
	}
	hs, hu := len(b.Sightings)/2, len(b.UnknownDomains)/2
	halves := [2]api.SightingsBatch{
		{Sightings: b.Sightings[:hs], UnknownDomains: b.UnknownDomains[:hu]},
		{Sightings: b.Sightings[hs:], UnknownDomains: b.UnknownDomains[hu:]},
	}
	for i, nb := range halves {
		nb.BatchID, nb.AgentVersion = fmt.Sprintf("%s.%d", b.BatchID, i), b.AgentVersion
		if len(nb.BatchID) > api.MaxBatchIDLen {
			nb.BatchID = nb.BatchID[len(nb.BatchID)-api.MaxBatchIDLen:]
		}
		if len(nb.Sightings) == 0 && len(nb.UnknownDomains) == 0 {
			continue
		}
		if len(nb.UnknownDomains) == 0 {
			nb.UnknownDomains = nil
		}
		if err := u.queue.Put(nb); err != nil {
			return fmt.Errorf("split %s: %w", b.BatchID, err)
		}
	}
	return u.queue.Ack(b.BatchID)
}

// backoff is the wait after a failure: exponential from MinBackoff, capped
// at MaxBackoff, with full jitter so a fleet coming back online does not
// retry in step; at least what the collector asked for.
func (u *Uploader) backoff(atLeast time.Duration) time.Duration {
	u.failure++
	d := u.opts.MinBackoff << min(u.failure-1, 20)
	if d <= 0 || d > u.opts.MaxBackoff {
		d = u.opts.MaxBackoff
	}
	d = d/2 + time.Duration(u.rng.Int64N(int64(d/2)+1))
	return max(d, atLeast)
}

// Run drains the spool every interval until ctx ends.
func (u *Uploader) Run(ctx context.Context, interval time.Duration) error {
	for {
		n, wait, err := u.Drain(ctx)
		if err != nil && ctx.Err() == nil {
			u.log.Warn("upload failed; will retry", "err", err, "retry_in", wait.Round(time.Second))
		} else if n > 0 {
			u.log.Info("uploaded", "batches", n)
		}
		if wait == 0 {
			wait = interval
		}
		if err := u.opts.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
}

// Authorized returns a client carrying the device token, enrolling first
// if needed: for the heartbeat and catalog refresh, which share the
// uploader's enrollment.
func (u *Uploader) Authorized(ctx context.Context) (*api.Client, error) {
	token, err := u.token(ctx, false)
	if err != nil {
		return nil, err
	}
	return u.client.WithToken(token), nil
}
