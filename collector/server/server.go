// Package server is the collector's HTTP face: the agent API (enroll,
// sightings, heartbeat, catalog), the JSON and CSV API IT and scripts use,
// and the health and metrics endpoints. It validates everything it is sent
// and talks to storage only through the small interfaces of package
// collector.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/internal/secret"
	"github.com/shadowmap/shadowmap/signatures"
)

// Secret is a named credential: an enroll secret or an admin token.
// Revoked ones are refused, and devices enrolled with a revoked enroll
// secret are refused too: a leaked secret may have enrolled impostors.
type Secret struct {
	Name    string
	Value   string
	Revoked bool
}

// Stores is every store the server writes to or reads from.
type Stores interface {
	collector.DeviceStore
	collector.EvidenceStore
	collector.AppStateStore
	collector.UnknownDomainStore
	collector.SourceRunStore
	collector.IdPAppStore
	collector.GrantStore
}

// Options configure a Server.
type Options struct {
	Catalog *signatures.Catalog
	// CatalogBundle and CatalogETag are what GET /api/v1/catalog serves
	// (signatures.Bundle).
	CatalogBundle []byte
	CatalogETag   string

	Stores    Stores
	Inventory Inventory
	// Ready reports whether the server can do its work (the store
	// answers); /readyz serves it.
	Ready func(context.Context) error

	EnrollSecrets []Secret
	// StoredEnrollSecrets are the enroll secrets made in the web view,
	// accepted beside EnrollSecrets; nil when there are none.
	StoredEnrollSecrets StoredEnrollSecrets
	AdminTokens         []Secret
	// EmailDomain turns an OS user name into an email address when the
	// MDM gave no owner for the device.
	EmailDomain string

	// MaxBodyBytes caps a sightings body as it arrives (compressed);
	// api.MaxCompressedBytes when zero.
	MaxBodyBytes int64

	// DeviceRate and DeviceBurst limit sightings uploads per device.
	DeviceRate  float64
	DeviceBurst int

	// Running returns the progress of the importers running now, by
	// source (sources.Scheduler.Running); nil when none run in this
	// process.
	Running func() map[string]sources.ProgressSnapshot

	Logger   *slog.Logger
	Registry *prometheus.Registry
	Clock    func() time.Time
	// Web is the IT web view, served at every path the API does not
	// use; nil serves the API alone.
	Web http.Handler
}

// StoredEnrollSecrets reads the enroll secrets made in the web view
// (collector.EnrollSecretStore).
type StoredEnrollSecrets interface {
	EnrollSecrets(ctx context.Context) ([]collector.EnrollSecret, error)
}

// Server serves the collector's HTTP API.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	limiter *deviceLimiter
	metrics *metrics
	mux     *http.ServeMux
}

// New builds a Server. Registry may be nil, in which case metrics are kept
// on a private registry.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.DeviceRate <= 0 {
		o.DeviceRate = 2
	}
	if o.DeviceBurst <= 0 {
		o.DeviceBurst = 10
	}
	if o.MaxBodyBytes <= 0 || o.MaxBodyBytes > api.MaxCompressedBytes {
		o.MaxBodyBytes = api.MaxCompressedBytes
	}
	s := &Server{
		opts:    o,
		log:     o.Logger,
		now:     o.Clock,
		limiter: newDeviceLimiter(o.DeviceRate, o.DeviceBurst, o.Clock),
		metrics: newMetrics(o.Registry),
		mux:     http.NewServeMux(),
	}
	s.routes()
	return s
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.handle("GET /healthz", "healthz", s.healthz)
	s.handle("GET /readyz", "readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))

	s.handle("POST "+api.PathEnroll, "enroll", s.enroll)
	s.handle("POST "+api.PathSightings, "sightings", s.device(s.sightings))
	s.handle("POST "+api.PathHeartbeat, "heartbeat", s.device(s.heartbeat))
	s.handle("GET "+api.PathCatalog, "catalog", s.device(s.catalog))

	s.handle("GET /api/v1/apps", "apps", s.admin(s.listApps))
	s.handle("GET /api/v1/apps/{id}", "app", s.admin(s.getApp))
	s.handle("PATCH /api/v1/apps/{id}", "app_patch", s.admin(s.patchApp))
	s.handle("GET /api/v1/people", "people", s.admin(s.listPeople))
	s.handle("GET /api/v1/devices", "devices", s.admin(s.listDevices))
	s.handle("GET /api/v1/export/apps.csv", "export_csv", s.admin(s.exportCSV))
	s.handle("GET /api/v1/unknown-domains", "unknown_domains", s.admin(s.unknownDomains))
	s.handle("GET /api/v1/sources", "sources", s.admin(s.listSources))
	s.handle("GET /api/v1/idp-apps", "idp_apps", s.admin(s.listIdPApps))
	s.handle("PUT /api/v1/idp-apps/{idp}/{id}", "idp_app_map", s.admin(s.mapIdPApp))
	s.handle("GET /api/v1/oauth-candidates", "oauth_candidates", s.admin(s.oauthCandidates))
	if s.opts.Web != nil {
		// Everything that is not the API is the web view; under /api/
		// an unknown path stays a JSON 404 for programs.
		s.mux.Handle("/", s.opts.Web)
		s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "not_found", "no such API endpoint")
		})
	}
}

// handle registers a handler with request metrics labelled by route name,
// never by the raw path (which would let clients mint label values).
func (s *Server) handle(pattern, route string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.metrics.instrument(route, h))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			writeError(w, http.StatusServiceUnavailable, "unavailable", "not ready")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// matchSecret finds the secret equal to presented, revoked or not,
// comparing against every entry so the time taken does not tell which one
// matched.
func matchSecret(secrets []Secret, presented string) (Secret, bool) {
	var found Secret
	ok := false
	for _, s := range secrets {
		if secret.Equal(s.Value, presented) && !ok {
			found, ok = s, true
		}
	}
	return found, ok
}

type adminKey struct{}

// admin wraps a handler that needs an admin API token.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "an admin API token is required (Authorization: Bearer ...)")
			return
		}
		sec, ok := matchSecret(s.opts.AdminTokens, token)
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown admin token")
			return
		}
		if sec.Revoked {
			writeError(w, http.StatusForbidden, "forbidden", "this admin token is revoked")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, sec.Name)))
	}
}

// adminName is who made an admin request: the token's name.
func adminName(ctx context.Context) string {
	n, _ := ctx.Value(adminKey{}).(string)
	return n
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, api.Error{Error: msg, Code: kind})
}

// internalError logs err and answers 500 without details.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}
