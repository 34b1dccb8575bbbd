package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// This file holds the admin endpoints of the importers: source health
// with the progress of runs in flight, the IdPs' app lists with IT's
// manual mapping to catalog apps, and the OAuth clients the catalog does
// not know.

// maxMapBody caps a PUT /api/v1/idp-apps body: one app id.
const maxMapBody = 4 << 10

// SourceView is one importer as GET /api/v1/sources shows it.
type SourceView struct {
	Source      string    `json:"source"`
	LastRun     time.Time `json:"last_run,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is why the last run failed; "" when it worked.
	LastError     string `json:"last_error,omitempty"`
	LastEvents    int64  `json:"last_events"`
	LastImported  int64  `json:"last_imported"`
	TotalImported int64  `json:"total_imported"`
	Runs          int64  `json:"runs"`
	// Failures counts failed runs in a row.
	Failures int64 `json:"failures"`
	// LastSkipped counts what the last run skipped, by reason.
	LastSkipped map[string]int64 `json:"last_skipped,omitempty"`
	// Running is the progress of the run in flight, nil when none is.
	Running *ProgressView `json:"running,omitempty"`
}

// ProgressView is a run's progress, with durations in seconds.
type ProgressView struct {
	Stage          string  `json:"stage,omitempty"`
	Events         int64   `json:"events"`
	Imported       int64   `json:"imported"`
	Total          int64   `json:"total,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Rate is events per second so far.
	Rate float64 `json:"rate"`
	// LeftSeconds is the time left at the current rate, when the total
	// is known.
	LeftSeconds float64 `json:"left_seconds,omitempty"`
	// Skipped counts records skipped so far, by reason.
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// Text is the line a terminal shows.
	Text string `json:"text"`
}

func progressView(p sources.ProgressSnapshot) *ProgressView {
	return &ProgressView{
		Stage: p.Stage, Events: p.Events, Imported: p.Imported, Total: p.Total,
		ElapsedSeconds: p.Elapsed.Seconds(), Rate: p.Rate, LeftSeconds: p.Left.Seconds(), Text: p.String(),
		Skipped: p.Skipped,
	}
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	health, err := s.opts.Stores.SourceHealth(r.Context())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("source health: %w", err))
		return
	}
	var running map[string]sources.ProgressSnapshot
	if s.opts.Running != nil {
		running = s.opts.Running()
	}
	out := make([]SourceView, 0, len(health)+len(running))
	for _, h := range health {
		v := SourceView{
			Source: h.Source, LastRun: h.LastRun, LastSuccess: h.LastSuccess, LastError: h.LastError,
			LastEvents: h.LastEvents, LastImported: h.LastImported, TotalImported: h.TotalImported,
			Runs: h.Runs, Failures: h.Failures, LastSkipped: h.LastSkipped,
		}
		if p, ok := running[h.Source]; ok {
			v.Running = progressView(p)
			delete(running, h.Source)
		}
		out = append(out, v)
	}
	// A source on its first run has no health yet, only progress.
	for name, p := range running {
		out = append(out, SourceView{Source: name, Running: progressView(p)})
	}
	slices.SortFunc(out, func(a, b SourceView) int { return strings.Compare(a.Source, b.Source) })
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// IdPAppView is an app configured in an IdP as the API shows it.
type IdPAppView struct {
	IdP string `json:"idp"`
	// ID is the IdP's id for the app (Okta app id, Entra appId, Google
	// SAML app name).
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Protocol     string   `json:"protocol,omitempty"`
	Provisioning bool     `json:"provisioning"`
	Active       bool     `json:"active"`
	URLs         []string `json:"urls"`
	// AppID is the catalog app it maps to, "" when unmapped; MappedBy
	// says how (domain, oauth_client, name, manual).
	AppID    string    `json:"app_id"`
	AppName  string    `json:"app_name,omitempty"`
	MappedBy string    `json:"mapped_by,omitempty"`
	SeenAt   time.Time `json:"seen_at,omitzero"`
}

func (s *Server) idpAppView(a collector.IdPApp) IdPAppView {
	v := IdPAppView{
		IdP: a.IdP, ID: a.ExternalID, Name: a.Name, Protocol: a.Protocol, Provisioning: a.Provisioning,
		Active: a.Active, URLs: a.URLs, AppID: a.AppID, MappedBy: a.MappedBy, SeenAt: a.SeenAt,
	}
	if v.URLs == nil {
		v.URLs = []string{}
	}
	if s.opts.Catalog != nil {
		if app := s.opts.Catalog.App(a.AppID); app != nil {
			v.AppName = app.Name
		}
	}
	return v
}

func (s *Server) listIdPApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.opts.Stores.IdPApps(r.Context())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("idp apps: %w", err))
		return
	}
	idp := r.URL.Query().Get("idp")
	out := make([]IdPAppView, 0, len(apps))
	for _, a := range apps {
		if idp == "" || a.IdP == idp {
			out = append(out, s.idpAppView(a))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"idp_apps": out})
}

// IdPAppMapping is the body of PUT /api/v1/idp-apps/{idp}/{id}: the
// catalog app IT says the IdP app is, or "" to clear IT's mapping so the
// next import maps it again.
type IdPAppMapping struct {
	AppID *string `json:"app_id"`
}

func (s *Server) mapIdPApp(w http.ResponseWriter, r *http.Request) {
	idp, id := r.PathValue("idp"), r.PathValue("id")
	var m IdPAppMapping
	if !decodeOneObject(w, r, maxMapBody, &m) {
		return
	}
	if m.AppID == nil {
		writeError(w, http.StatusBadRequest, "bad_request", `give app_id: a catalog app id, or "" to clear the mapping`)
		return
	}
	appID := strings.TrimSpace(*m.AppID)
	if appID != "" && (s.opts.Catalog == nil || s.opts.Catalog.App(appID) == nil) {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown app id %q: the catalog has no such app", appID))
		return
	}
	err := s.opts.Stores.MapIdPApp(r.Context(), idp, id, appID)
	if errors.Is(err, collector.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no %s app %q", idp, id))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("idp app mapped by hand", "idp", idp, "id", id, "app", appID, "by", adminName(r.Context()))
	apps, err := s.opts.Stores.IdPApps(r.Context())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("idp apps: %w", err))
		return
	}
	for _, a := range apps {
		if a.IdP == idp && a.ExternalID == id {
			writeJSON(w, http.StatusOK, s.idpAppView(a))
			return
		}
	}
	// Removed by an import between the write and the read.
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no %s app %q", idp, id))
}

// OAuthCandidateView is an OAuth client the catalog does not know, as
// the company's current grants show it.
type OAuthCandidateView struct {
	Provider string   `json:"provider"`
	ClientID string   `json:"client_id"`
	Name     string   `json:"name,omitempty"`
	People   int      `json:"people"`
	Scopes   []string `json:"scopes"`
	// Risk is the highest level (high, medium, low) the catalog's scope
	// table gives any of the scopes; "" when it lists none of them.
	Risk      string    `json:"risk,omitempty"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

// riskRank orders scope risk levels.
var riskRank = map[string]int{"low": 1, "medium": 2, "high": 3}

func (s *Server) oauthCandidates(w http.ResponseWriter, r *http.Request) {
	cands, err := s.opts.Stores.OAuthCandidates(r.Context())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("oauth candidates: %w", err))
		return
	}
	out := make([]OAuthCandidateView, 0, len(cands))
	for _, c := range cands {
		v := OAuthCandidateView{
			Provider: c.Provider, ClientID: c.ClientID, Name: c.Name, People: c.People,
			Scopes: c.Scopes, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen,
		}
		if v.Scopes == nil {
			v.Scopes = []string{}
		}
		for _, sc := range c.Scopes {
			if s.opts.Catalog == nil {
				break
			}
			if risk := s.opts.Catalog.ScopeRisk(c.Provider, sc); risk != nil && riskRank[risk.Level] > riskRank[v.Risk] {
				v.Risk = risk.Level
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"candidates": out})
}
