package digest

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

func TestDue(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	tests := []struct {
		name     string
		cfg      config.Digest
		now      time.Time
		week     string
		due      time.Time
		isDueNow bool
	}{
		{"monday 08:00 utc, sunday before", config.Digest{Weekday: "monday", Hour: 8, TimeZone: "UTC"},
			time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), "2026-W47", time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), true},
		{"monday 08:00 utc, monday 07:59", config.Digest{Weekday: "monday", Hour: 8, TimeZone: "UTC"},
			time.Date(2026, 11, 30, 7, 59, 0, 0, time.UTC), "2026-W48", time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), false},
		{"monday 08:00 utc, monday 08:00", config.Digest{Weekday: "monday", Hour: 8, TimeZone: "UTC"},
			time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), "2026-W48", time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), true},
		{"berlin: 07:30 utc is 08:30 local", config.Digest{Weekday: "monday", Hour: 8, TimeZone: "Europe/Berlin"},
			time.Date(2026, 11, 30, 7, 30, 0, 0, time.UTC), "2026-W48", time.Date(2026, 11, 30, 8, 0, 0, 0, berlin), true},
		{"friday 16:00", config.Digest{Weekday: "friday", Hour: 16, TimeZone: "UTC"},
			time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), "2026-W48", time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			week, due, err := Due(tc.cfg, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if week.ISO() != tc.week || !due.Equal(tc.due) || !tc.now.Before(due) != tc.isDueNow {
				t.Errorf("Due = %s, %v; want %s, %v (due now %v)", week.ISO(), due, tc.week, tc.due, tc.isDueNow)
			}
		})
	}
}

// clock is a fake clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type fixture struct {
	store  *sqlite.Store
	server *testServer
	clock  *clock
	sleeps []time.Duration
	path   string
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newFixture(t *testing.T, o serverOpts) *fixture {
	f := &fixture{path: filepath.Join(t.TempDir(), "shadowmap.db"), server: startServer(t, o),
		clock: &clock{time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)}} // Monday 07:00
	f.store = openStore(t, f.path)
	if err := f.store.SetDigestRecipients(t.Context(), []string{"cio@example.com", "it@example.com"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) scheduler(mode, user, pass string, empty bool, sendEmpty bool) *Scheduler {
	return &Scheduler{
		Config: config.Digest{Enabled: true, Weekday: "monday", Hour: 8, TimeZone: "UTC", From: "shadowmap@example.com",
			BaseURL: "https://shadowmap.example", SendEmpty: sendEmpty, SMTP: f.server.cfg(mode, user, pass)},
		Recipients: f.store, Log: f.store, Runs: f.store,
		Compose: func(_ context.Context, week Week, _ time.Time) (Message, bool, error) {
			m := testMessage
			m.Subject = "Shadow IT digest " + week.ISO()
			return m, empty, nil
		},
		Now:    f.clock.Now,
		Logger: slog.New(slog.DiscardHandler),
		Sleep:  func(_ context.Context, d time.Duration) error { f.sleeps = append(f.sleeps, d); return nil },
	}
}

func (f *fixture) health(t *testing.T) collector.SourceHealth {
	t.Helper()
	hs, err := f.store.SourceHealth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Source == SourceName {
			return h
		}
	}
	return collector.SourceHealth{}
}

func TestSchedulerSendsOncePerWeek(t *testing.T) {
	f := newFixture(t, serverOpts{tls: config.SMTPStartTLS, user: "digest", pass: "s3cret"})
	s := f.scheduler(config.SMTPStartTLS, "digest", "s3cret", false, true)

	tick := func(s *Scheduler, wantSent bool, wantSkipped string) {
		t.Helper()
		res, err := s.Tick(t.Context())
		if err != nil {
			t.Fatalf("Tick at %v: %v", f.clock.t, err)
		}
		if res.Sent != wantSent || res.Skipped != wantSkipped {
			t.Errorf("Tick at %v = %+v, want sent %v skipped %q", f.clock.t, res, wantSent, wantSkipped)
		}
	}
	tick(s, false, "not due") // Monday 07:00: the week's digest is not yet due
	if n := len(f.server.messages()); n != 0 {
		t.Fatalf("%d messages before the due time", n)
	}
	f.clock.t = f.clock.t.Add(time.Hour) // 08:00
	tick(s, true, "")
	f.clock.t = f.clock.t.Add(time.Hour)
	tick(s, false, "already sent")

	// A restart: a new store on the same file, a new scheduler.
	f.store.Close()
	f.store = openStore(t, f.path)
	tick(f.scheduler(config.SMTPStartTLS, "digest", "s3cret", false, true), false, "already sent")

	msgs := f.server.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(msgs))
	}
	if p := parseMIME(t, msgs[0].Data); p.Subject != "Shadow IT digest 2026-W48" {
		t.Errorf("subject = %q", p.Subject)
	}
	if got := msgs[0].To; !slices.Equal(got, []string{"cio@example.com", "it@example.com"}) {
		t.Errorf("recipients = %v", got)
	}
	if h := f.health(t); h.Runs != 1 || h.LastError != "" || h.LastImported != 1 {
		t.Errorf("digest health = %+v, want one successful run", h)
	}

	// The next week is sent again, once.
	f.clock.t = f.clock.t.AddDate(0, 0, 7)
	tick(f.scheduler(config.SMTPStartTLS, "digest", "s3cret", false, true), true, "")
	if n := len(f.server.messages()); n != 2 {
		t.Errorf("%d messages after the second week, want 2", n)
	}
}

func TestSchedulerRetries(t *testing.T) {
	// The server refuses twice (451), then accepts: the third attempt
	// delivers, after the two backoff waits.
	f := newFixture(t, serverOpts{tls: config.SMTPNoTLS, refuse: 2})
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	s := f.scheduler(config.SMTPNoTLS, "", "", false, true)
	res, err := s.Tick(t.Context())
	if err != nil || !res.Sent || res.Attempts != 3 {
		t.Fatalf("Tick = %+v, %v; want sent on attempt 3", res, err)
	}
	if !slices.Equal(f.sleeps, Backoff) {
		t.Errorf("backoff waits = %v, want %v", f.sleeps, Backoff)
	}
	if n := len(f.server.messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestSchedulerFailureShowsInHealth(t *testing.T) {
	f := newFixture(t, serverOpts{tls: config.SMTPStartTLS, user: "digest", pass: "s3cret"})
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	res, err := f.scheduler(config.SMTPStartTLS, "digest", "wrong", false, true).Tick(t.Context())
	if err == nil || res.Sent {
		t.Fatalf("Tick with a wrong password = %+v, %v; want an error", res, err)
	}
	// An auth failure is not retried within the tick: it needs IT.
	if res.Attempts != 1 || len(f.sleeps) != 0 {
		t.Errorf("attempts = %d, waits = %v; want 1 attempt, no wait", res.Attempts, f.sleeps)
	}
	h := f.health(t)
	if !strings.Contains(h.LastError, "authentication failed") || h.Failures != 1 {
		t.Errorf("digest health = %+v, want the auth failure", h)
	}
	if st, err := f.store.DigestWeekStatus(t.Context(), res.Week); err != nil || st != collector.DigestStatusFailed {
		t.Errorf("DigestWeekStatus = %q, %v after a failure, want failed", st, err)
	}

	// IT fixes the password: the next hourly tick sends.
	f.clock.t = f.clock.t.Add(time.Hour)
	res, err = f.scheduler(config.SMTPStartTLS, "digest", "s3cret", false, true).Tick(t.Context())
	if err != nil || !res.Sent {
		t.Fatalf("Tick after the fix = %+v, %v", res, err)
	}
	if h := f.health(t); h.LastError != "" || h.Failures != 0 {
		t.Errorf("digest health after the fix = %+v", h)
	}
}

func TestSchedulerQuietWeek(t *testing.T) {
	tests := []struct {
		name      string
		sendEmpty bool
		messages  int
		skipped   string
	}{
		{"send_empty on", true, 1, ""},
		{"send_empty off", false, 0, "nothing new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, serverOpts{tls: config.SMTPNoTLS})
			f.clock.t = f.clock.t.Add(2 * time.Hour)
			s := f.scheduler(config.SMTPNoTLS, "", "", true, tc.sendEmpty)
			res, err := s.Tick(t.Context())
			if err != nil || res.Skipped != tc.skipped {
				t.Fatalf("Tick = %+v, %v", res, err)
			}
			// Either way the week is done: the next tick neither builds
			// nor sends.
			if res, _ := s.Tick(t.Context()); res.Skipped != "already sent" {
				t.Errorf("second Tick = %+v", res)
			}
			if n := len(f.server.messages()); n != tc.messages {
				t.Errorf("%d messages, want %d", n, tc.messages)
			}
		})
	}
}

func TestSchedulerNoRecipients(t *testing.T) {
	f := newFixture(t, serverOpts{tls: config.SMTPNoTLS})
	if err := f.store.SetDigestRecipients(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	_, err := f.scheduler(config.SMTPNoTLS, "", "", false, true).Tick(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no recipients") {
		t.Fatalf("Tick = %v, want no recipients", err)
	}
	if h := f.health(t); !strings.Contains(h.LastError, "no recipients") {
		t.Errorf("digest health = %+v", h)
	}
}

// TestSchedulerStoppedMidSend: the collector stops after the SMTP server
// has taken the digest but before the outcome is logged. After the
// restart the week is in doubt: nothing is sent a second time, and source
// health tells IT what happened and how to resend.
func TestSchedulerStoppedMidSend(t *testing.T) {
	f := newFixture(t, serverOpts{tls: config.SMTPNoTLS})
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	s := f.scheduler(config.SMTPNoTLS, "", "", false, true)
	s.Send = func(ctx context.Context, cfg config.SMTP, from string, to []string, m Message) error {
		if err := Send(ctx, cfg, from, to, m); err != nil {
			t.Errorf("Send: %v", err)
		}
		// The process ends here: nothing after this line of Tick runs.
		runtime.Goexit()
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Tick(t.Context())
		t.Error("Tick went on after the stop")
	}()
	<-done
	if n := len(f.server.messages()); n != 1 {
		t.Fatalf("%d messages before the restart, want 1", n)
	}

	f.store.Close()
	f.store = openStore(t, f.path)
	restarted := f.scheduler(config.SMTPNoTLS, "", "", false, true)
	for i := range 3 {
		res, err := restarted.Tick(t.Context())
		if err != nil || res.Sent || res.Skipped != "in doubt" {
			t.Errorf("tick %d after the restart = %+v, %v; want skipped in doubt", i, res, err)
		}
		f.clock.t = f.clock.t.Add(time.Hour)
	}
	if n := len(f.server.messages()); n != 1 {
		t.Errorf("%d messages after the restart, want still 1", n)
	}
	h := f.health(t)
	if !strings.Contains(h.LastError, "stopped while sending") || !strings.Contains(h.LastError, "shadowmap digest send --week 2026-W48") || h.Runs != 1 {
		t.Errorf("digest health = %+v, want one run explaining the doubt and the resend command", h)
	}
	// The next week is not held back by this one.
	f.clock.t = f.clock.t.AddDate(0, 0, 7)
	if res, err := restarted.Tick(t.Context()); err != nil || !res.Sent {
		t.Errorf("next week's tick = %+v, %v; want sent", res, err)
	}
}

// TestSchedulerStoppedDuringBackoff: the collector stops while waiting to
// retry a refused attempt. Nothing was handed over, so the week is not in
// doubt: after the restart the next Tick sends it.
func TestSchedulerStoppedDuringBackoff(t *testing.T) {
	f := newFixture(t, serverOpts{tls: config.SMTPNoTLS, refuse: 1})
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	s := f.scheduler(config.SMTPNoTLS, "", "", false, true)
	s.Sleep = func(context.Context, time.Duration) error {
		runtime.Goexit() // the process ends during the backoff wait
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Tick(t.Context())
	}()
	<-done
	if n := len(f.server.messages()); n != 0 {
		t.Fatalf("%d messages before the restart, want 0 (the one attempt was refused)", n)
	}

	f.store.Close()
	f.store = openStore(t, f.path)
	res, err := f.scheduler(config.SMTPNoTLS, "", "", false, true).Tick(t.Context())
	if err != nil || !res.Sent {
		t.Fatalf("Tick after the restart = %+v, %v; want sent", res, err)
	}
	if n := len(f.server.messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
