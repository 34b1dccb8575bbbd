package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// DigestPreviewFunc renders the weekly digest's HTML for an ISO week
// ("2026-W48"; "" for the last full week), as the email would show it.
type DigestPreviewFunc func(ctx context.Context, week string) (html string, err error)

// badWeekError is an error of DigestPreviewFunc about the week asked for
// (it does not parse): the answer is 400 with its message, not a 500.
type badWeekError interface {
	error
	BadWeek() bool
}

func (s *Server) digestRoutes() {
	s.mux.HandleFunc("GET /digest", s.signedIn(s.digestPreview))
}

// digestPreview shows the weekly digest as its recipients will see it.
// The email's HTML carries inline CSS (mail clients need it), so this one
// answer allows inline styles; scripts stay forbidden, and every name in
// the digest is escaped when it is rendered.
func (s *Server) digestPreview(w http.ResponseWriter, r *http.Request, sess session) {
	if s.opts.DigestPreview == nil {
		s.notFound(w, r)
		return
	}
	week := strings.TrimSpace(r.URL.Query().Get("week"))
	if len(week) > 16 {
		http.Error(w, "week: want YYYY-Www, e.g. 2026-W48", http.StatusBadRequest)
		return
	}
	html, err := s.opts.DigestPreview(r.Context(), week)
	if bw, ok := errors.AsType[badWeekError](err); ok && bw.BadWeek() {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(html))
}
