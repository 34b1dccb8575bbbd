package upload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
)

// memQueue is an in-memory spool with the same contract.
type memQueue struct {
	batches []api.SightingsBatch
	acked   []string
}

func (q *memQueue) Next() (api.SightingsBatch, bool, error) {
	if len(q.batches) == 0 {
		return api.SightingsBatch{}, false, nil
	}
	return q.batches[0], true, nil
}

func (q *memQueue) Ack(id string) error {
	for i, b := range q.batches {
		if b.BatchID == id {
			q.batches = append(q.batches[:i], q.batches[i+1:]...)
			q.acked = append(q.acked, id)
			return nil
		}
	}
	return fmt.Errorf("ack of unknown batch %s", id)
}

func (q *memQueue) Put(b api.SightingsBatch) error {
	q.batches = append(q.batches, b)
	return nil
}

// fakeCollector speaks the agent API with the real decoders and answers
// from a script: one status per sightings request, then 200.
type fakeCollector struct {
	mu       sync.Mutex
	script   []int
	enrolls  int
	tokens   map[string]bool
	received []string
	maxRows  int // batches with more sightings or unknown domains get 413
	// unknown counts the unknown-domain counts received.
	unknown int
}

func (f *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case api.PathEnroll:
		if _, err := api.DecodeEnroll(r.Body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.enrolls++
		tok := fmt.Sprintf("token-%d-0123456789abcdef0123456789abcdef", f.enrolls)
		f.tokens[tok] = true
		json.NewEncoder(w).Encode(api.EnrollResponse{DeviceID: fmt.Sprintf("dev_%d", f.enrolls), DeviceToken: tok})
	case api.PathSightings:
		if !f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(api.Error{Error: "unknown device token", Code: "unauthorized"})
			return
		}
		b, err := api.DecodeBatch(r.Body, r.Header.Get("Content-Encoding") == "gzip", time.Now())
		if err != nil {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(api.Error{Error: err.Error(), Code: "bad_request"})
			return
		}
		if f.maxRows > 0 && (len(b.Sightings) > f.maxRows || len(b.UnknownDomains) > f.maxRows) {
			w.WriteHeader(413)
			json.NewEncoder(w).Encode(api.Error{Error: "too large", Code: "too_large"})
			return
		}
		if len(f.script) > 0 {
			code := f.script[0]
			f.script = f.script[1:]
			if code == 401 {
				clear(f.tokens)
			}
			if code == 429 {
				w.Header().Set("Retry-After", "7")
			}
			if code != 200 {
				w.WriteHeader(code)
				json.NewEncoder(w).Encode(api.Error{Error: "scripted", Code: "scripted"})
				return
			}
		}
		f.received = append(f.received, b.BatchID)
		f.unknown += len(b.UnknownDomains)
		json.NewEncoder(w).Encode(api.SightingsResponse{Accepted: len(b.Sightings)})
	default:
		http.NotFound(w, r)
	}
}

func batch(id string, rows int) api.SightingsBatch {
	now := time.Now().UTC()
	b := api.SightingsBatch{BatchID: id, AgentVersion: "test"}
	for i := range rows {
		b.Sightings = append(b.Sightings, api.Sighting{App: "slack", Domain: "slack.com", Source: "dns", User: fmt.Sprintf("u%d", i),
			Day: now.Format(time.DateOnly), Count: 1, FirstSeen: now, LastSeen: now})
	}
	return b
}

func newUploader(t *testing.T, f *fakeCollector, q Queue) (*Uploader, string) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	state := filepath.Join(t.TempDir(), "state", "agent.json")
	u := New(api.NewClient(srv.URL, nil), q, Options{
		StateFile:  state,
		Enroll:     api.EnrollRequest{EnrollSecret: "enroll-secret-0123456789", Hostname: "h", OS: "linux", AgentVersion: "test"},
		MinBackoff: time.Second, MaxBackoff: time.Minute,
	})
	return u, state
}

func TestDrainSendsInOrderAndAcks(t *testing.T) {
	f := &fakeCollector{tokens: map[string]bool{}}
	q := &memQueue{}
	q.Put(batch("b1", 2))
	q.Put(batch("b2", 3))
	u, state := newUploader(t, f, q)
	sent, wait, err := u.Drain(context.Background())
	if err != nil || sent != 2 || wait != 0 {
		t.Fatalf("Drain = %d, %v, %v", sent, wait, err)
	}
	if strings.Join(f.received, ",") != "b1,b2" || strings.Join(q.acked, ",") != "b1,b2" {
		t.Errorf("received %v, acked %v", f.received, q.acked)
	}
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	// A new uploader reuses the saved enrollment.
	u2, _ := newUploader(t, f, q)
	u2.opts.StateFile = state
	q.Put(batch("b3", 1))
	if _, _, err := u2.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.enrolls != 1 {
		t.Errorf("enrolled %d times, want once", f.enrolls)
	}
}

func TestDrainFailures(t *testing.T) {
	t.Run("429 waits at least Retry-After and keeps the batch", func(t *testing.T) {
		f := &fakeCollector{tokens: map[string]bool{}, script: []int{429}}
		q := &memQueue{}
		q.Put(batch("b1", 1))
		u, _ := newUploader(t, f, q)
		_, wait, err := u.Drain(context.Background())
		if err == nil || wait < 7*time.Second || len(q.batches) != 1 {
			t.Fatalf("wait %v, err %v, queue %d", wait, err, len(q.batches))
		}
		if sent, _, err := u.Drain(context.Background()); err != nil || sent != 1 {
			t.Fatalf("retry: %d, %v", sent, err)
		}
	})
	t.Run("5xx backs off and keeps the batch", func(t *testing.T) {
		f := &fakeCollector{tokens: map[string]bool{}, script: []int{503, 503}}
		q := &memQueue{}
		q.Put(batch("b1", 1))
		u, _ := newUploader(t, f, q)
		_, w1, err1 := u.Drain(context.Background())
		_, w2, err2 := u.Drain(context.Background())
		if err1 == nil || err2 == nil || len(q.batches) != 1 || w1 <= 0 || w2 <= 0 || w2 > time.Minute {
			t.Fatalf("waits %v %v, errs %v %v", w1, w2, err1, err2)
		}
	})
	t.Run("401 enrolls again", func(t *testing.T) {
		f := &fakeCollector{tokens: map[string]bool{}, script: []int{401}}
		q := &memQueue{}
		q.Put(batch("b1", 1))
		u, _ := newUploader(t, f, q)
		sent, _, err := u.Drain(context.Background())
		if err != nil || sent != 1 || f.enrolls != 2 {
			t.Fatalf("sent %d, enrolls %d, err %v", sent, f.enrolls, err)
		}
	})
	t.Run("413 splits the batch", func(t *testing.T) {
		f := &fakeCollector{tokens: map[string]bool{}, maxRows: 2}
		q := &memQueue{}
		q.Put(batch("big", 7))
		u, _ := newUploader(t, f, q)
		sent, _, err := u.Drain(context.Background())
		if err != nil || len(q.batches) != 0 {
			t.Fatalf("sent %d, err %v, left %d", sent, err, len(q.batches))
		}
		rows := 0
		for _, id := range f.received {
			if !strings.HasPrefix(id, "big.") {
				t.Errorf("unexpected batch %s", id)
			}
			rows++
		}
		if rows < 4 {
			t.Errorf("received %v", f.received)
		}
	})
	t.Run("413 splits unknown-domain counts too", func(t *testing.T) {
		f := &fakeCollector{tokens: map[string]bool{}, maxRows: 2}
		q := &memQueue{}
		b := batch("mixed", 1)
		for i := range 7 {
			b.UnknownDomains = append(b.UnknownDomains, api.UnknownDomain{Domain: fmt.Sprintf("vendor%d.com", i), Day: b.Sightings[0].Day, Count: 3})
		}
		q.Put(b)
		u, _ := newUploader(t, f, q)
		if _, _, err := u.Drain(context.Background()); err != nil || len(q.batches) != 0 {
			t.Fatalf("err %v, left %d", err, len(q.batches))
		}
		if f.unknown != 7 {
			t.Errorf("the collector received %d of 7 unknown-domain counts in %v", f.unknown, f.received)
		}
	})
	t.Run("400 drops the batch and goes on", func(t *testing.T) {
		f := &fakeCollector{tokens: map[string]bool{}}
		q := &memQueue{}
		bad := batch("bad", 1)
		bad.Sightings[0].Day = "1999-01-01"
		q.Put(bad)
		q.Put(batch("good", 1))
		u, _ := newUploader(t, f, q)
		sent, _, err := u.Drain(context.Background())
		if err != nil || sent != 1 || len(q.batches) != 0 || strings.Join(f.received, ",") != "good" {
			t.Fatalf("sent %d, err %v, received %v", sent, err, f.received)
		}
	})
	t.Run("collector unreachable", func(t *testing.T) {
		q := &memQueue{}
		q.Put(batch("b1", 1))
		u := New(api.NewClient("http://127.0.0.1:1", nil), q, Options{StateFile: filepath.Join(t.TempDir(), "s.json"),
			Enroll: api.EnrollRequest{EnrollSecret: "x", Hostname: "h", OS: "linux", AgentVersion: "t"}})
		_, wait, err := u.Drain(context.Background())
		if err == nil || wait <= 0 || len(q.batches) != 1 {
			t.Fatalf("wait %v err %v", wait, err)
		}
	})
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	u := New(nil, &memQueue{}, Options{MinBackoff: time.Second, MaxBackoff: 8 * time.Second})
	var last time.Duration
	for i := range 10 {
		d := u.backoff(0)
		if d > 8*time.Second || d < 500*time.Millisecond {
			t.Fatalf("backoff %d = %v, outside [0.5s, 8s]", i, d)
		}
		last = d
	}
	if last < 4*time.Second {
		t.Errorf("backoff after 10 failures = %v, want near the cap", last)
	}
	if d := u.backoff(time.Hour); d != time.Hour {
		t.Errorf("backoff below Retry-After: %v", d)
	}
}
