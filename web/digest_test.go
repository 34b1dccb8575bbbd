package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type weekErr struct{}

func (weekErr) Error() string { return "week \"2026-W99\": no such week" }
func (weekErr) BadWeek() bool { return true }

func TestDigestPreview(t *testing.T) {
	var asked string
	s := newTestServer(t)
	s.opts.DigestPreview = func(_ context.Context, week string) (string, error) {
		asked = week
		switch week {
		case "2026-W99":
			return "", weekErr{}
		case "2026-W01":
			return "", errors.New("store down")
		}
		return `<html><body><table style="width:100%"><tr><td>Notion &lt;script&gt;</td></tr></table></body></html>`, nil
	}
	sess := session{Email: "it@acme.example", CSRF: "t"}
	tests := []struct {
		target string
		status int
		want   string
	}{
		{"/digest", http.StatusOK, "Notion &lt;script&gt;"},
		{"/digest?week=2026-W48", http.StatusOK, "<table"},
		{"/digest?week=2026-W99", http.StatusBadRequest, "no such week"},
		{"/digest?week=2026-W01", http.StatusInternalServerError, "went wrong"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		s.digestPreview(rec, httptest.NewRequest("GET", tt.target, nil), sess)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("GET %s: %d %.200q, want %d with %q", tt.target, rec.Code, rec.Body.String(), tt.status, tt.want)
		}
		if tt.status == http.StatusOK {
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
				t.Errorf("GET %s: CSP %q must allow no script", tt.target, csp)
			}
		}
	}
	if asked != "2026-W01" {
		t.Errorf("the last week asked for was %q", asked)
	}
	// Signed out, the preview is behind sign-in like every page.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/digest", nil))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/signin") {
		t.Errorf("signed out: %d to %q, want a redirect to sign in", rec.Code, rec.Header().Get("Location"))
	}
	// Without a digest configured there is no page.
	s.opts.DigestPreview = nil
	rec = httptest.NewRecorder()
	s.digestPreview(rec, httptest.NewRequest("GET", "/digest", nil), sess)
	if rec.Code != http.StatusNotFound {
		t.Errorf("no digest: %d, want 404", rec.Code)
	}
}
