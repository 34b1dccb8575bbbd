package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// openTestStore opens a fresh SQLite store with the clock now, closed
// when the test ends.
func openTestStore(t testing.TB, now func() time.Time) *sqlite.Store {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "shadowmap.db"), sqlite.Options{Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublicPagesAndHeaders(t *testing.T) {
	h := newTestServer(t).Handler()
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/about-the-agent", http.StatusOK, "What it never sends"},
		{"/no-such-page", http.StatusNotFound, "There is nothing at this address"},
		{"/static/app.css", http.StatusOK, "--accent"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("GET %s: %d, want %d with %q", tt.path, rec.Code, tt.status, tt.want)
		}
		for _, hdr := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
			if rec.Header().Get(hdr) == "" {
				t.Errorf("GET %s: no %s header", tt.path, hdr)
			}
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q allows framing", tt.path, rec.Header().Get("Content-Security-Policy"))
		}
	}
}
