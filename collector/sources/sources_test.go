package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// importerFunc is an Importer made of a name and a function.
type importerFunc struct {
	name string
	run  func(ctx context.Context, env *Env) error
}

func (f importerFunc) Name() string                               { return f.name }
func (f importerFunc) Import(ctx context.Context, env *Env) error { return f.run(ctx, env) }

func openStore(t *testing.T, now func() time.Time) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newRunner(t *testing.T, clock *fakeClock) (*Runner, *sqlite.Store) {
	t.Helper()
	st := openStore(t, clock.Now)
	c := testCatalog(t)
	return &Runner{Stores: st, Runs: st, Catalog: c, Now: clock.Now}, st
}

func loginEvidence(person, id string, at time.Time) collector.Evidence {
	return collector.Evidence{
		AppID: "slack", Source: collector.SourceSSOLogin, Person: person, Day: at.UTC().Format(time.DateOnly),
		FirstSeen: at, LastSeen: at, Count: 1, Detail: "okta saml", DedupeKey: "sso_login:" + id,
	}
}

// logins reads three events, stores two logins and moves its checkpoint.
func logins(ctx context.Context, env *Env) error {
	env.Progress.SetStage("system log")
	env.Progress.AddEvents(3)
	at := env.Now()
	if _, err := env.AddEvidence(ctx, []collector.Evidence{
		loginEvidence("ann@example.com", "evt-1", at), loginEvidence("bob@example.com", "evt-2", at),
	}); err != nil {
		return err
	}
	return env.SetCheckpoint(ctx, "okta", "since", at.Format(time.RFC3339))
}

func TestRunnerRecordsRuns(t *testing.T) {
	clock := newFakeClock()
	r, st := newRunner(t, clock)
	ctx := context.Background()

	ok := importerFunc{"okta", logins}
	run, err := r.Run(ctx, ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Source != "okta" || run.Events != 3 || run.Imported != 2 || run.Error != "" {
		t.Errorf("first run %+v", run)
	}
	if v, found, err := st.Checkpoint(ctx, "okta", "since"); err != nil || !found || v != clock.Now().Format(time.RFC3339) {
		t.Errorf("checkpoint %q %v %v", v, found, err)
	}
	// A second run reads the same events: nothing new is stored.
	clock.Advance(time.Minute)
	run, err = r.Run(ctx, importerFunc{"okta", func(ctx context.Context, env *Env) error {
		env.Progress.AddEvents(2)
		at := clock.Now().Add(-time.Minute)
		_, err := env.AddEvidence(ctx, []collector.Evidence{loginEvidence("ann@example.com", "evt-1", at), loginEvidence("bob@example.com", "evt-2", at)})
		return err
	}}, nil)
	if err != nil || run.Imported != 0 || run.Events != 2 {
		t.Errorf("second run %+v, %v: want 0 imported", run, err)
	}

	// A failure is recorded with its message and returned.
	clock.Advance(time.Minute)
	cause := &APIError{Status: 401, Message: "the credentials were refused: check that they are current"}
	run, err = r.Run(ctx, importerFunc{"google", func(ctx context.Context, env *Env) error {
		env.Progress.AddEvents(1)
		return fmt.Errorf("token events page 3: %w", cause)
	}}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("err = %v, want the APIError kept", err)
	}
	wantErr := "import google: token events page 3: HTTP 401: the credentials were refused: check that they are current"
	if run.Error != wantErr || err.Error() != wantErr {
		t.Errorf("run error %q / %v\nwant %q", run.Error, err, wantErr)
	}

	// A cancelled run is still recorded.
	clock.Advance(time.Minute)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	run, err = r.Run(cctx, importerFunc{"google", func(ctx context.Context, env *Env) error { return ctx.Err() }}, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(run.Error, "context canceled") {
		t.Errorf("cancelled run %+v, %v", run, err)
	}

	health, err := st.SourceHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 2 {
		t.Fatalf("health %+v, want google and okta", health)
	}
	g, o := health[0], health[1]
	if g.Source != "google" || g.Runs != 2 || g.Failures != 2 || !g.LastSuccess.IsZero() || !strings.Contains(g.LastError, "context canceled") {
		t.Errorf("google health %+v", g)
	}
	if !g.LastRun.Equal(clock.Now()) {
		t.Errorf("google last run %v, want %v", g.LastRun, clock.Now())
	}
	if o.Source != "okta" || o.Runs != 2 || o.Failures != 0 || o.LastError != "" || o.TotalImported != 2 || o.LastImported != 0 || o.LastEvents != 2 {
		t.Errorf("okta health %+v", o)
	}
	ev, err := st.ListEvidence(ctx, collector.EvidenceFilter{AppID: "slack"})
	if err != nil || len(ev) != 2 {
		t.Errorf("evidence %d rows, %v; want 2", len(ev), err)
	}
}

// failingRecorder refuses every run.
type failingRecorder struct{}

func (failingRecorder) RecordSourceRun(context.Context, collector.SourceRun) error {
	return errors.New("disk full")
}

func TestRunnerRecordFailure(t *testing.T) {
	clock := newFakeClock()
	r, _ := newRunner(t, clock)
	r.Runs = failingRecorder{}
	_, err := r.Run(context.Background(), importerFunc{"okta", logins}, nil)
	if err == nil || !strings.Contains(err.Error(), "record okta run: disk full") {
		t.Errorf("err = %v", err)
	}
}

func TestEnvAddEvidence(t *testing.T) {
	clock := newFakeClock()
	st := openStore(t, clock.Now)
	env := &Env{Stores: st, Progress: NewProgress(clock.Now), Now: clock.Now}
	ctx := context.Background()
	if n, err := env.AddEvidence(ctx, nil); n != 0 || err != nil {
		t.Errorf("no evidence: %d, %v", n, err)
	}
	bad := loginEvidence("ann@example.com", "x", clock.Now())
	bad.AppID = ""
	if _, err := env.AddEvidence(ctx, []collector.Evidence{bad}); err == nil || !strings.HasPrefix(err.Error(), "store evidence: ") {
		t.Errorf("evidence without an app: %v", err)
	}
	if env.Progress.Snapshot().Imported != 0 {
		t.Error("refused evidence was counted")
	}
}

func TestSchedulerRunOnce(t *testing.T) {
	clock := newFakeClock()
	r, st := newRunner(t, clock)
	entered, release := make(chan struct{}), make(chan struct{})
	var order []string
	s := &Scheduler{Runner: r, Importers: []Importer{
		importerFunc{"entra", func(ctx context.Context, env *Env) error {
			order = append(order, "entra")
			return errors.New("sign-ins page 1: HTTP 403: the tenant needs Entra ID P1 or P2")
		}},
		importerFunc{"google", func(ctx context.Context, env *Env) error {
			order = append(order, "google")
			env.Progress.SetStage("users")
			env.Progress.SetTotal(50)
			env.Progress.AddEvents(5)
			close(entered)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}},
		importerFunc{"okta", func(ctx context.Context, env *Env) error {
			order = append(order, "okta")
			return logins(ctx, env)
		}},
	}}
	if got := s.Running(); len(got) != 0 {
		t.Errorf("running before a round: %v", got)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunOnce(context.Background())
	}()
	<-entered
	running := s.Running()
	if len(running) != 1 {
		t.Fatalf("running %v, want google alone", running)
	}
	g, found := running["google"]
	if !found || g.Stage != "users" || g.Events != 5 || g.Total != 50 {
		t.Errorf("google progress %+v", g)
	}
	close(release)
	<-done
	if got := s.Running(); len(got) != 0 {
		t.Errorf("running after the round: %v", got)
	}
	if strings.Join(order, ",") != "entra,google,okta" {
		t.Errorf("order %v", order)
	}
	health, err := st.SourceHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range health {
		got = append(got, fmt.Sprintf("%s runs=%d failures=%d imported=%d error=%q", h.Source, h.Runs, h.Failures, h.LastImported, h.LastError))
	}
	want := []string{
		`entra runs=1 failures=1 imported=0 error="import entra: sign-ins page 1: HTTP 403: the tenant needs Entra ID P1 or P2"`,
		`google runs=1 failures=0 imported=0 error=""`,
		`okta runs=1 failures=0 imported=2 error=""`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("health\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSchedulerStopsOnCancel(t *testing.T) {
	clock := newFakeClock()
	r, st := newRunner(t, clock)
	ctx, cancel := context.WithCancel(context.Background())
	ran := 0
	s := &Scheduler{Runner: r, Importers: []Importer{
		importerFunc{"a", func(ctx context.Context, env *Env) error { ran++; cancel(); return ctx.Err() }},
		importerFunc{"b", func(ctx context.Context, env *Env) error { ran++; return nil }},
	}}
	s.RunOnce(ctx)
	if ran != 1 {
		t.Errorf("%d importers ran after the cancel, want 1", ran)
	}
	health, err := st.SourceHealth(context.Background())
	if err != nil || len(health) != 1 || health[0].Source != "a" {
		t.Errorf("health %+v, %v: want the cancelled run of a recorded", health, err)
	}
	// Run returns once ctx is done, and at once with no importers.
	s.Run(ctx)
	(&Scheduler{Runner: r}).Run(context.Background())
}
