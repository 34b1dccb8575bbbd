package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// openTestStore opens a fresh SQLite store with its clock at now, closed
// when the test ends.
func openTestStore(t *testing.T, now time.Time) *sqlite.Store {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "shadowmap.db"),
		sqlite.Options{Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func TestMatchSecret(t *testing.T) {
	secrets := []Secret{{Name: "a", Value: "secret-one-0123456789"}, {Name: "b", Value: "secret-two-0123456789", Revoked: true}}
	tests := []struct {
		presented, name string
		ok, revoked     bool
	}{
		{"secret-one-0123456789", "a", true, false},
		{"secret-two-0123456789", "b", true, true},
		{"secret-one-012345678", "", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		s, ok := matchSecret(secrets, tt.presented)
		if ok != tt.ok || s.Name != tt.name || s.Revoked != tt.revoked {
			t.Errorf("matchSecret(%q) = %+v, %v", tt.presented, s, ok)
		}
	}
}

func TestPersonFor(t *testing.T) {
	s := New(Options{EmailDomain: "Example.com"})
	owned := collector.Device{OwnerEmail: "ann@example.com"}
	tests := []struct {
		d    collector.Device
		user string
		want string
	}{
		{owned, "root", "ann@example.com"},
		{collector.Device{}, "Bob", "bob@example.com"},
		{collector.Device{}, `ACME\Carol`, "carol@example.com"},
		{collector.Device{}, "dave@corp.example", "dave@corp.example"},
		{collector.Device{}, "not an <address", ""},
		{collector.Device{}, "", ""},
		{collector.Device{}, "a b", ""},
	}
	for _, tt := range tests {
		if got := s.personFor(tt.d, tt.user); got != tt.want {
			t.Errorf("personFor(%+v, %q) = %q, want %q", tt.d, tt.user, got, tt.want)
		}
	}
	if got := New(Options{}).personFor(collector.Device{}, "bob"); got != "" {
		t.Errorf("without an email domain a bare user is nobody, got %q", got)
	}
}

func TestEtagMatches(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", "abc"`, true},
		{`*`, true},
		{`"abd"`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := etagMatches(tt.header, `"abc"`); got != tt.want {
			t.Errorf("etagMatches(%q) = %v", tt.header, got)
		}
	}
}

func TestDeviceLimiter(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	l := newDeviceLimiter(1, 2, func() time.Time { return now })
	if !l.allow("d1") || !l.allow("d1") {
		t.Fatal("the burst was refused")
	}
	if l.allow("d1") {
		t.Fatal("a third upload in the same instant was allowed")
	}
	if !l.allow("d2") {
		t.Fatal("one device's limit held back another")
	}
	now = now.Add(time.Second)
	if !l.allow("d1") {
		t.Fatal("the token did not come back after a second")
	}
	if l.retryAfterSeconds() != 1 {
		t.Errorf("retry after %d s, want 1", l.retryAfterSeconds())
	}
}

func TestMatchSecretIgnoresEmptyValues(t *testing.T) {
	// A revoked entry may leave its value out; an empty presented secret
	// must not match it.
	if s, ok := matchSecret([]Secret{{Name: "gone", Revoked: true}}, ""); ok {
		t.Fatalf("empty secret matched %+v", s)
	}
}
