package google

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// runImportAt runs imp with the clock at now.
func runImportAt(t testing.TB, st *sqlite.Store, imp sources.Importer, now time.Time) (collector.SourceRun, error) {
	t.Helper()
	r := &sources.Runner{Stores: st, Runs: st, Catalog: testCatalog(t), Now: func() time.Time { return now }, HTTP: &http.Client{Timeout: 10 * time.Second}}
	return r.Run(context.Background(), imp, nil)
}

// calls counts the fake's Admin SDK requests since the last reset, by API.
type calls struct{ reports, users, tokens int }

func (f *fakeGoogle) calls() calls {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c calls
	for _, p := range f.paths {
		switch {
		case strings.HasPrefix(p, "/admin/reports/"):
			c.reports++
		case p == "/admin/directory/v1/users":
			c.users++
		case strings.HasSuffix(p, "/tokens"):
			c.tokens++
		}
	}
	f.paths = nil
	return c
}

func sweptAt(t *testing.T, st *sqlite.Store) string {
	t.Helper()
	cp, ok, err := st.Checkpoint(context.Background(), Source, checkpointSwept)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return cp
}

// TestTokenSweepInterval runs rounds on a fake clock: the Reports API is
// read every round, the per-user Directory sweep only once the last
// completed one is older than the interval.
func TestTokenSweepInterval(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	cfg := f.config(t)
	cfg.TokenSweepInterval = 6 * time.Hour
	imp, err := New(cfg, Options{Retry: (&sleeps{}).retry()})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/tokens") {
			writeError(w, http.StatusInternalServerError, "backendError", "Internal error encountered.")
			return true
		}
		return false
	}
	rounds := []struct {
		name      string
		after     time.Duration // since testNow
		hook      func(w http.ResponseWriter, r *http.Request, n int) bool
		sweeps    bool
		wantErr   string
		wantSwept time.Duration // the checkpoint after the round, since testNow
	}{
		{name: "first round sweeps", after: 0, sweeps: true, wantSwept: 0},
		{name: "15 minutes later", after: 15 * time.Minute, wantSwept: 0},
		{name: "just before the interval", after: 6*time.Hour - time.Second, wantSwept: 0},
		{name: "failed sweep", after: 6 * time.Hour, hook: fail, sweeps: true, wantErr: "HTTP 500", wantSwept: 0},
		{name: "retried next round", after: 6*time.Hour + 15*time.Minute, sweeps: true, wantSwept: 6*time.Hour + 15*time.Minute},
		{name: "then waits again", after: 12 * time.Hour, wantSwept: 6*time.Hour + 15*time.Minute},
	}
	for _, r := range rounds {
		f.setHook(r.hook)
		f.calls()
		_, err := runImportAt(t, st, imp, testNow.Add(r.after))
		if r.wantErr == "" && err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if r.wantErr != "" && (err == nil || !strings.Contains(err.Error(), r.wantErr)) {
			t.Fatalf("%s: err = %v, want %q", r.name, err, r.wantErr)
		}
		c := f.calls()
		if c.reports == 0 {
			t.Errorf("%s: the Reports API was not read", r.name)
		}
		if swept := c.users > 0 || c.tokens > 0; swept != r.sweeps {
			t.Errorf("%s: %d users.list and %d tokens.list calls; want a sweep: %v", r.name, c.users, c.tokens, r.sweeps)
		}
		if want := testNow.Add(r.wantSwept).Format(time.RFC3339Nano); sweptAt(t, st) != want {
			t.Errorf("%s: sweep checkpoint %q, want %q", r.name, sweptAt(t, st), want)
		}
	}
}

// TestTokenSweepRestart: a new importer (a restarted collector) reads the
// last sweep from the store rather than sweeping at once.
func TestTokenSweepRestart(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	if _, err := runImportAt(t, st, newImporter(t, f, &sleeps{}), testNow); err != nil {
		t.Fatal(err)
	}
	f.calls()
	if _, err := runImportAt(t, st, newImporter(t, f, &sleeps{}), testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c := f.calls(); c.users != 0 || c.tokens != 0 || c.reports == 0 {
		t.Errorf("after a restart within the default interval: %+v; want reports only", c)
	}
}

// TestTokenSweepForced: SweepTokens (`shadowmap import google
// --sweep-tokens`) sweeps within the interval and moves the checkpoint.
func TestTokenSweepForced(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	if _, err := runImportAt(t, st, newImporter(t, f, &sleeps{}), testNow); err != nil {
		t.Fatal(err)
	}
	f.calls()
	imp, err := New(f.config(t), Options{Retry: (&sleeps{}).retry(), SweepTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	later := testNow.Add(time.Minute)
	if _, err := runImportAt(t, st, imp, later); err != nil {
		t.Fatal(err)
	}
	if c := f.calls(); c.users == 0 || c.tokens != 5 {
		t.Errorf("forced sweep: %+v; want users.list and 5 tokens.list calls", c)
	}
	if got, want := sweptAt(t, st), later.Format(time.RFC3339Nano); got != want {
		t.Errorf("sweep checkpoint %q, want %q", got, want)
	}
}

// TestTokenSweepCheckpointOdd: an unreadable checkpoint, or one in the
// future (the clock was set back), sweeps rather than stalling.
func TestTokenSweepCheckpointOdd(t *testing.T) {
	for _, cp := range []string{"yesterday", testNow.Add(48 * time.Hour).Format(time.RFC3339Nano)} {
		t.Run(cp, func(t *testing.T) {
			f := newFakeGoogle(t)
			st := openStore(t)
			if err := st.SetCheckpoint(context.Background(), Source, checkpointSwept, cp); err != nil {
				t.Fatal(err)
			}
			if _, err := runImportAt(t, st, newImporter(t, f, &sleeps{}), testNow); err != nil {
				t.Fatal(err)
			}
			if c := f.calls(); c.tokens != 5 {
				t.Errorf("%+v; want a sweep", c)
			}
			if got := sweptAt(t, st); got != testNow.Format(time.RFC3339Nano) {
				t.Errorf("sweep checkpoint %q, want %s", got, testNow.Format(time.RFC3339Nano))
			}
		})
	}
}
