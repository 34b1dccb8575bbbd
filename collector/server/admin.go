package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

// Inventory is what the JSON and CSV API read.
type Inventory interface {
	Apps(ctx context.Context, q inventory.Query) (inventory.Page, error)
	App(ctx context.Context, id string) (inventory.AppDetail, error)
	People(ctx context.Context) ([]inventory.Person, error)
	// AllApps is every app q selects, in one read: the CSV export.
	AllApps(ctx context.Context, q inventory.Query) ([]inventory.AppRow, error)
	// UnknownDomains keeps the domains at or above the k-devices
	// threshold that the catalog does not know.
	UnknownDomains(deviceCounts map[string]int) []inventory.DomainCount
}

// maxPatchBody caps a PATCH body: a status and a reason.
const maxPatchBody = 16 << 10

// evidenceShown is how many evidence rows an app's detail lists.
const evidenceShown = 500

func queryFrom(r *http.Request) (inventory.Query, error) {
	v := r.URL.Query()
	q := inventory.Query{
		Status:   collector.Status(v.Get("status")),
		Flag:     inventory.Flag(v.Get("flag")),
		Source:   collector.Source(v.Get("source")),
		Category: v.Get("category"),
		Text:     v.Get("q"),
		Sort:     v.Get("sort"),
		Order:    v.Get("order"),
	}
	for name, dst := range map[string]*int{"page": &q.Page, "limit": &q.Limit} {
		if s := v.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return q, fmt.Errorf("%s must be a positive whole number", name)
			}
			*dst = n
		}
	}
	return q, nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	q, err := queryFrom(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	page, ok := s.appsPage(w, r, q)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// appsPage reads one page of the inventory, answering the request itself
// when that fails: 400 for a query the inventory refuses, 500 otherwise.
func (s *Server) appsPage(w http.ResponseWriter, r *http.Request, q inventory.Query) (inventory.Page, bool) {
	page, err := s.opts.Inventory.Apps(r.Context(), q)
	switch {
	case errors.Is(err, inventory.ErrInvalidQuery):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return page, false
	case err != nil:
		s.internalError(w, r, err)
		return page, false
	}
	return page, true
}

// EvidenceView is one evidence row as the API shows it.
type EvidenceView struct {
	Source      collector.Source `json:"source"`
	Person      string           `json:"person,omitempty"`
	Device      string           `json:"device,omitempty"`
	Day         string           `json:"day"`
	FirstSeen   time.Time        `json:"first_seen"`
	LastSeen    time.Time        `json:"last_seen"`
	Count       int64            `json:"count"`
	Domain      string           `json:"domain,omitempty"`
	Tenant      string           `json:"tenant,omitempty"`
	Detail      string           `json:"detail,omitempty"`
	AmountCents int64            `json:"amount_cents,omitempty"`
	Currency    string           `json:"currency,omitempty"`
}

type appResponse struct {
	inventory.AppDetail
	Evidence []EvidenceView `json:"evidence"`
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.opts.Inventory.App(r.Context(), id)
	if errors.Is(err, collector.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no app %q in the inventory", id))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	ev, err := s.opts.Stores.ListEvidence(r.Context(), collector.EvidenceFilter{AppID: id, Limit: evidenceShown})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	resp := appResponse{AppDetail: d, Evidence: make([]EvidenceView, 0, len(ev))}
	for _, e := range ev {
		resp.Evidence = append(resp.Evidence, EvidenceView{
			Source: e.Source, Person: e.Person, Device: e.DeviceID, Day: e.Day,
			FirstSeen: e.FirstSeen, LastSeen: e.LastSeen, Count: e.Count,
			Domain: e.Domain, Tenant: e.Tenant, Detail: e.Detail,
			AmountCents: e.AmountCents, Currency: e.Currency,
		})
	}
	writeJSON(w, http.StatusOK, resp)
}

// AppPatch is the body of PATCH /api/v1/apps/{id}.
type AppPatch struct {
	Status *collector.Status `json:"status,omitempty"`
	Why    string            `json:"why,omitempty"`
	// InsideIdP marks the app as configured in an IdP (okta, entra,
	// google_workspace, onelogin, manual), or "" to clear the mark.
	InsideIdP *string `json:"inside_idp,omitempty"`
}

var idpNames = []string{"", "okta", "entra", "google_workspace", "onelogin", "manual"}

func (s *Server) patchApp(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.opts.Catalog.App(id) == nil {
		// Decisions are about apps the catalog knows or that have
		// evidence; anything else is a typo.
		if _, err := s.opts.Inventory.App(r.Context(), id); err != nil {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no app %q", id))
			return
		}
	}
	var p AppPatch
	if !decodeOneObject(w, r, maxPatchBody, &p) {
		return
	}
	switch {
	case p.Status == nil && p.InsideIdP == nil:
		writeError(w, http.StatusBadRequest, "bad_request", "give status and/or inside_idp")
		return
	case p.Status != nil && !p.Status.Valid():
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown status %q", *p.Status))
		return
	case p.InsideIdP != nil && !slices.Contains(idpNames, *p.InsideIdP):
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("inside_idp must be one of %s", strings.Join(idpNames[1:], ", ")))
		return
	case len(p.Why) > 2000:
		writeError(w, http.StatusBadRequest, "bad_request", "why is longer than 2000 characters")
		return
	}
	if p.Status != nil {
		_, err := s.opts.Stores.SetStatus(r.Context(), collector.StatusChange{
			AppID: id, To: *p.Status, By: adminName(r.Context()), Why: p.Why, At: s.now().UTC(),
		})
		if err != nil {
			s.internalError(w, r, fmt.Errorf("set status of %s: %w", id, err))
			return
		}
		s.log.Info("app status changed", "app", id, "status", *p.Status, "by", adminName(r.Context()))
	}
	if p.InsideIdP != nil {
		if err := s.opts.Stores.SetInsideIdP(r.Context(), id, *p.InsideIdP); err != nil {
			s.internalError(w, r, fmt.Errorf("set inside_idp of %s: %w", id, err))
			return
		}
	}
	d, err := s.opts.Inventory.App(r.Context(), id)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) listPeople(w http.ResponseWriter, r *http.Request) {
	people, err := s.opts.Inventory.People(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"people": people})
}

// DeviceView is a device as the API shows it: never its token hash.
type DeviceView struct {
	ID           string     `json:"id"`
	Hostname     string     `json:"hostname"`
	OS           string     `json:"os"`
	OSVersion    string     `json:"os_version,omitempty"`
	Arch         string     `json:"arch,omitempty"`
	AgentVersion string     `json:"agent_version"`
	OwnerEmail   string     `json:"owner_email,omitempty"`
	LastUser     string     `json:"last_user,omitempty"`
	EnrollSecret string     `json:"enroll_secret"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	LastSeenAt   time.Time  `json:"last_seen_at"`
	Revoked      bool       `json:"revoked"`
	Health       HealthView `json:"health"`
}

// HealthView is a device's last heartbeat.
type HealthView struct {
	CaptureState string    `json:"capture_state,omitempty"`
	PacketsSeen  uint64    `json:"packets_seen"`
	Drops        uint64    `json:"drops"`
	SpoolDepth   int64     `json:"spool_depth"`
	AgentVersion string    `json:"agent_version,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	Interfaces   []string  `json:"interfaces,omitempty"`
	ReportedAt   time.Time `json:"reported_at,omitzero"`
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	devices, err := s.opts.Stores.ListDevices(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	secretRevoked, err := s.secretRevocation(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := make([]DeviceView, 0, len(devices))
	for _, d := range devices {
		out = append(out, DeviceView{
			ID: d.ID, Hostname: d.Hostname, OS: d.OS, OSVersion: d.OSVersion, Arch: d.Arch,
			AgentVersion: d.AgentVersion, OwnerEmail: d.OwnerEmail, LastUser: d.LastUser,
			EnrollSecret: d.EnrollSecret, EnrolledAt: d.EnrolledAt, LastSeenAt: d.LastSeenAt,
			Revoked: d.Revoked || secretRevoked(d.EnrollSecret),
			Health: HealthView{
				CaptureState: d.Health.CaptureState, PacketsSeen: d.Health.PacketsSeen, Drops: d.Health.Drops,
				SpoolDepth: d.Health.SpoolDepth, AgentVersion: d.Health.AgentVersion, LastError: d.Health.LastError,
				Interfaces: d.Health.Interfaces, ReportedAt: d.Health.ReportedAt,
			},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	q, err := queryFrom(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	rows, err := s.opts.Inventory.AllApps(r.Context(), q)
	switch {
	case errors.Is(err, inventory.ErrInvalidQuery):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="shadowmap-apps.csv"`)
	if err := inventory.WriteCSV(w, rows); err != nil {
		s.log.Warn("write csv", "err", err)
	}
}

// Limits of GET /api/v1/unknown-domains?days=N.
const (
	defaultUnknownDomainDays = 30
	maxUnknownDomainDays     = 400
)

// UnknownDomainsResponse is the body of GET /api/v1/unknown-domains: the
// domains agents reported as matching no app, each with the number of
// distinct devices that saw it, only once at least k devices did. It
// never names a device or a person.
type UnknownDomainsResponse struct {
	Days    int                     `json:"days"`
	Since   string                  `json:"since"` // the first UTC day counted, YYYY-MM-DD
	Domains []inventory.DomainCount `json:"domains"`
}

func (s *Server) unknownDomains(w http.ResponseWriter, r *http.Request) {
	days := defaultUnknownDomainDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxUnknownDomainDays {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("days must be a whole number from 1 to %d", maxUnknownDomainDays))
			return
		}
		days = n
	}
	// The last N UTC days, today included.
	since := s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-days)
	counts, err := s.opts.Stores.UnknownDomainDevices(r.Context(), since)
	if err != nil {
		s.internalError(w, r, fmt.Errorf("unknown domains: %w", err))
		return
	}
	domains := s.opts.Inventory.UnknownDomains(counts)
	if domains == nil {
		domains = []inventory.DomainCount{}
	}
	writeJSON(w, http.StatusOK, UnknownDomainsResponse{Days: days, Since: since.Format(time.DateOnly), Domains: domains})
}

// decodeOneObject reads a request body of at most limit bytes that must
// hold exactly one JSON object with only known fields, into v. On failure
// it has answered 400 (or 413) and returns false.
func decodeOneObject(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeDecodeError(w, fmt.Errorf("decode body: %w", err))
		return false
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must hold one JSON object")
		return false
	}
	return true
}
