package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

// DeviceLister reads the enrolled agents.
type DeviceLister interface {
	ListDevices(ctx context.Context) ([]collector.Device, error)
	Device(ctx context.Context, id string) (collector.Device, error)
}

// SourceHealthReader reads the importers' health.
type SourceHealthReader interface {
	SourceHealth(ctx context.Context) ([]collector.SourceHealth, error)
}

const (
	// silentAfter is how long an agent may go without checking in before
	// the agents page calls it silent: a laptop off for a long weekend is
	// not, one gone for a week needs a look.
	silentAfter = 7 * 24 * time.Hour
	// Page sizes keep every page well under 300 KB at fleet scale.
	peoplePerPage  = 100
	devicesPerPage = 200
	idpAppsPerPage = 200
	// detailRows is how many evidence rows a person or device page lists.
	detailRows = 200
	// maxQueryLen bounds a search box's text.
	maxQueryLen = 200
)

func (s *Server) opsRoutes() {
	s.mux.HandleFunc("GET /people", s.signedIn(s.peoplePage))
	s.mux.HandleFunc("GET /people/{email}", s.signedIn(s.personPage))
	s.mux.HandleFunc("GET /devices", s.signedIn(s.devicesPage))
	s.mux.HandleFunc("GET /devices/{id}", s.signedIn(s.devicePage))
	s.mux.HandleFunc("GET /sources", s.signedIn(s.sourcesPage))
	s.settingsRoutes()
}

// pager is one page of a list: which rows, and the links to the others,
// each keeping the list's search text.
type pager struct {
	Page, Pages, Total int
	First, Last        int // 1-based rows shown, 0 when none
	Prev, Next         string
}

// paginate picks page of n rows at size per page, pageParam being the
// page's query string value; base is the list's URL with its other query
// parameters.
func paginate(n, size int, pageParam string, base url.Values, path string) (pager, int, int) {
	pages := max(1, (n+size-1)/size)
	p, err := strconv.Atoi(pageParam)
	if err != nil || p < 1 {
		p = 1
	}
	p = min(p, pages)
	start, end := (p-1)*size, min(p*size, n)
	pg := pager{Page: p, Pages: pages, Total: n}
	if n > 0 {
		pg.First, pg.Last = start+1, end
	}
	link := func(to int) string {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(to))
		return path + "?" + q.Encode()
	}
	if p > 1 {
		pg.Prev = link(p - 1)
	}
	if p < pages {
		pg.Next = link(p + 1)
	}
	return pg, start, end
}

// searchText reads the search box: trimmed, lowercase, bounded.
func searchText(r *http.Request) string {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxQueryLen {
		q = q[:maxQueryLen]
	}
	return q
}

// peoplePageData is what people.html shows.
type peoplePageData struct {
	Query  string
	People []inventory.Person
	Pager  pager
}

func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request, sess session) {
	if s.opts.Inventory == nil {
		s.fail(w, r, fmt.Errorf("web: people page: no inventory"))
		return
	}
	all, err := s.opts.Inventory.People(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := searchText(r)
	if needle := strings.ToLower(q); needle != "" {
		kept := all[:0]
		for _, p := range all {
			if strings.Contains(p.Email, needle) {
				kept = append(kept, p)
			}
		}
		all = kept
	}
	base := url.Values{}
	if q != "" {
		base.Set("q", q)
	}
	pg, start, end := paginate(len(all), peoplePerPage, r.URL.Query().Get("page"), base, "/people")
	s.render(w, r, http.StatusOK, "people", page{Title: "People", Nav: "people", User: sess.Email, CSRF: sess.CSRF,
		Data: peoplePageData{Query: q, People: all[start:end], Pager: pg}})
}

// personPageData is what person.html shows.
type personPageData struct {
	Person   inventory.Person
	Devices  []collector.Device
	Evidence []collector.Evidence
	// EvidenceMore is true when the person has more evidence than shown.
	EvidenceMore bool
	Grants       []collector.OAuthGrant
}

func (s *Server) personPage(w http.ResponseWriter, r *http.Request, sess session) {
	email := strings.ToLower(strings.TrimSpace(r.PathValue("email")))
	if email == "" || len(email) > 320 || s.opts.Inventory == nil {
		s.notFound(w, r)
		return
	}
	ctx := r.Context()
	people, err := s.opts.Inventory.People(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	i, found := slices.BinarySearchFunc(people, email, func(p inventory.Person, e string) int { return cmp.Compare(p.Email, e) })
	if !found {
		s.notFound(w, r)
		return
	}
	d := personPageData{Person: people[i]}
	if s.opts.Devices != nil {
		for _, id := range d.Person.Devices {
			dev, err := s.opts.Devices.Device(ctx, id)
			if isNotFound(err) {
				dev = collector.Device{ID: id}
			} else if err != nil {
				s.fail(w, r, err)
				return
			}
			d.Devices = append(d.Devices, dev)
		}
	}
	if s.opts.Evidence != nil {
		ev, err := s.opts.Evidence.ListEvidence(ctx, collector.EvidenceFilter{Person: email, Limit: detailRows + 1})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.EvidenceMore = len(ev) > detailRows
		d.Evidence = ev[:min(len(ev), detailRows)]
	}
	if s.opts.Grants != nil {
		grants, err := s.opts.Grants.CurrentGrants(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, g := range grants {
			if g.Person == email {
				d.Grants = append(d.Grants, g)
			}
		}
	}
	s.render(w, r, http.StatusOK, "person", page{Title: email, Nav: "people", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

// deviceRow is one agent on the agents page.
type deviceRow struct {
	collector.Device
	Silent bool
}

// devicesPageData is what devices.html shows.
type devicesPageData struct {
	Query string
	// SilentOnly lists only agents that stopped checking in.
	SilentOnly bool
	Devices    []deviceRow
	Pager      pager
	// Total, Silent and Revoked count the whole fleet, whatever the
	// filter.
	Total, Silent, Revoked int
	SilentDays             int
}

func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request, sess session) {
	if s.opts.Devices == nil {
		s.fail(w, r, fmt.Errorf("web: agents page: no device store"))
		return
	}
	all, err := s.opts.Devices.ListDevices(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.opts.Now()
	d := devicesPageData{Query: searchText(r), SilentOnly: r.URL.Query().Get("silent") == "1", SilentDays: int(silentAfter / (24 * time.Hour))}
	needle := strings.ToLower(d.Query)
	rows := make([]deviceRow, 0, len(all))
	for _, dev := range all {
		row := deviceRow{Device: dev, Silent: isSilent(dev, now)}
		d.Total++
		if dev.Revoked {
			d.Revoked++
		} else if row.Silent {
			d.Silent++
		}
		if d.SilentOnly && (!row.Silent || dev.Revoked) {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(dev.Hostname), needle) &&
			!strings.Contains(strings.ToLower(dev.OwnerEmail), needle) && !strings.Contains(strings.ToLower(dev.ID), needle) {
			continue
		}
		rows = append(rows, row)
	}
	// Silent agents first, longest silent first; then by hostname.
	slices.SortStableFunc(rows, func(a, b deviceRow) int {
		if a.Silent != b.Silent {
			if a.Silent {
				return -1
			}
			return 1
		}
		if a.Silent {
			if c := a.LastSeenAt.Compare(b.LastSeenAt); c != 0 {
				return c
			}
		}
		return cmp.Compare(strings.ToLower(a.Hostname), strings.ToLower(b.Hostname))
	})
	base := url.Values{}
	if d.Query != "" {
		base.Set("q", d.Query)
	}
	if d.SilentOnly {
		base.Set("silent", "1")
	}
	pg, start, end := paginate(len(rows), devicesPerPage, r.URL.Query().Get("page"), base, "/devices")
	d.Devices, d.Pager = rows[start:end], pg
	s.render(w, r, http.StatusOK, "devices", page{Title: "Agents", Nav: "devices", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

// isSilent reports whether an agent has not checked in for silentAfter.
// A revoked agent is expected to be silent.
func isSilent(d collector.Device, now time.Time) bool {
	if d.Revoked {
		return false
	}
	last := d.LastSeenAt
	if last.IsZero() {
		last = d.EnrolledAt
	}
	return now.Sub(last) >= silentAfter
}

// devicePageData is what device.html shows.
type devicePageData struct {
	Device       collector.Device
	Silent       bool
	Evidence     []collector.Evidence
	EvidenceMore bool
}

func (s *Server) devicePage(w http.ResponseWriter, r *http.Request, sess session) {
	id := r.PathValue("id")
	if id == "" || len(id) > 200 || s.opts.Devices == nil {
		s.notFound(w, r)
		return
	}
	dev, err := s.opts.Devices.Device(r.Context(), id)
	if isNotFound(err) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := devicePageData{Device: dev, Silent: isSilent(dev, s.opts.Now())}
	if s.opts.Evidence != nil {
		ev, err := s.opts.Evidence.ListEvidence(r.Context(), collector.EvidenceFilter{Device: id, Limit: detailRows + 1})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.EvidenceMore = len(ev) > detailRows
		d.Evidence = ev[:min(len(ev), detailRows)]
	}
	title := dev.Hostname
	if title == "" {
		title = dev.ID
	}
	s.render(w, r, http.StatusOK, "device", page{Title: title, Nav: "devices", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

// sourcesPageData is what sources.html shows.
type sourcesPageData struct {
	Health []collector.SourceHealth
	// IdPApps are one page of the IdPs' apps, unmapped first.
	IdPApps  []collector.IdPApp
	Pager    pager
	Unmapped int
	// Candidates are OAuth clients the catalog does not know.
	Candidates []collector.OAuthCandidate
}

func (s *Server) sourcesPage(w http.ResponseWriter, r *http.Request, sess session) {
	ctx := r.Context()
	var d sourcesPageData
	var err error
	if s.opts.SourceHealth != nil {
		if d.Health, err = s.opts.SourceHealth.SourceHealth(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var apps []collector.IdPApp
	if s.opts.IdPApps != nil {
		if apps, err = s.opts.IdPApps.IdPApps(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	// Unmapped apps first: they are what IT can act on (map them, or
	// add the app to the catalog).
	slices.SortStableFunc(apps, func(a, b collector.IdPApp) int {
		if (a.AppID == "") != (b.AppID == "") {
			if a.AppID == "" {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.IdP, b.IdP), cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)))
	})
	for _, a := range apps {
		if a.AppID == "" {
			d.Unmapped++
		}
	}
	pg, start, end := paginate(len(apps), idpAppsPerPage, r.URL.Query().Get("page"), url.Values{}, "/sources")
	d.IdPApps, d.Pager = apps[start:end], pg
	if s.opts.Grants != nil {
		if d.Candidates, err = s.opts.Grants.OAuthCandidates(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
		// The page shows the leads; the long tail of one-person clients
		// stays in the API.
		d.Candidates = d.Candidates[:min(len(d.Candidates), 100)]
	}
	s.render(w, r, http.StatusOK, "sources", page{Title: "Sources", Nav: "sources", User: sess.Email, CSRF: sess.CSRF, Data: d})
}
