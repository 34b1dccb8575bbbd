package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

// maxAppFormBytes bounds the app page's forms: notes of MaxAppNotesLen
// characters, percent-encoded, with room to spare.
const maxAppFormBytes = 256 << 10

// The store interfaces the app, people, device and source pages read.
// Each is the smallest slice of a collector store a page needs; the SQLite
// store implements them all.

// EvidenceLister lists evidence rows: an app's timeline, a person's or a
// device's recent evidence.
type EvidenceLister interface {
	ListEvidence(ctx context.Context, f collector.EvidenceFilter) ([]collector.Evidence, error)
}

// GrantLister lists the OAuth grants that stand, and the clients the
// catalog does not know.
type GrantLister interface {
	CurrentGrants(ctx context.Context) ([]collector.OAuthGrant, error)
	OAuthCandidates(ctx context.Context) ([]collector.OAuthCandidate, error)
}

// IdPAppLister lists the apps configured in the IdPs.
type IdPAppLister interface {
	IdPApps(ctx context.Context) ([]collector.IdPApp, error)
}

// Limits of the app page's forms and lists.
const (
	// timelineRows is how many evidence rows the app page lists.
	timelineRows = 200
	// peopleEvidenceRows is how many of an app's evidence rows are read
	// to list its people with their last seen: enough for every person of
	// a large app's recent weeks, few enough to stay fast.
	peopleEvidenceRows = 20_000
	// peopleShown and grantsShown bound the app page's people and grant
	// tables, so an app used by the whole company stays under 300 KB; the
	// page says how many more there are.
	peopleShown = 200
	grantsShown = 100
	// maxRationaleLen bounds a status rationale.
	maxRationaleLen = 2_000
	// maxAppIDLen is the longest app id the catalog or the API accepts;
	// longer ids are 404s without asking the inventory.
	maxAppIDLen = 64
)

func (s *Server) appRoutes() {
	s.mux.HandleFunc("GET /apps/{id}", s.signedIn(s.appPage))
	// Bodies are capped before signedIn reads the CSRF field from them.
	s.mux.HandleFunc("POST /apps/{id}/status", limitBody(maxAppFormBytes, s.signedIn(s.appStatus)))
	s.mux.HandleFunc("POST /apps/{id}/notes", limitBody(maxAppFormBytes, s.signedIn(s.appNotes)))
}

// appStatusForm is the status change form with what was typed and why it was
// refused.
type appStatusForm struct {
	Status collector.Status
	Why    string
	Errors map[string]string
}

// appNoteForm is the owner and notes form.
type appNoteForm struct {
	Owner  string
	Notes  string
	Errors map[string]string
}

// personSeen is one person on the app page.
type personSeen struct {
	Email    string
	LastSeen time.Time
	Sources  []collector.Source
}

// scopeView is one granted scope with the catalog's risk label ("" when
// the scope table does not know it).
type scopeView struct {
	Scope  string
	Level  string
	Reason string
}

// grantView is one person's OAuth grant to the app.
type grantView struct {
	Person    string
	Provider  string
	ClientID  string
	Name      string
	Scopes    []scopeView
	High      bool
	GrantedAt time.Time
}

// appPageData is what app.html shows.
type appPageData struct {
	App      inventory.AppDetail
	Website  string
	Summary  string
	Note     collector.AppNote
	NoteForm appNoteForm
	Form     appStatusForm
	Statuses []collector.Status
	// Saved names the form that was just saved ("status", "notes").
	Saved string

	Timeline []collector.Evidence
	// TimelineMore is true when the app has more evidence than shown.
	TimelineMore bool
	People       []personSeen
	// PeopleTotal counts the people found, of whom People are the most
	// recently seen.
	PeopleTotal int
	// PeopleMore is true when the people list was built from the newest
	// evidence only.
	PeopleMore bool
	Invoices   []collector.Evidence
	// Grants are the riskiest of GrantsTotal grants.
	Grants      []grantView
	GrantsTotal int
	IdPApps     []collector.IdPApp
}

func (s *Server) appPage(w http.ResponseWriter, r *http.Request, sess session) {
	data, ok := s.appOrAnswer(w, r)
	if !ok {
		return
	}
	switch r.URL.Query().Get("saved") {
	case "status", "notes":
		data.Saved = r.URL.Query().Get("saved")
	}
	s.renderApp(w, r, http.StatusOK, sess, data)
}

// appOrAnswer loads the app of the request's path for a handler; when it
// cannot, it has answered 404 or 500 and returns false.
func (s *Server) appOrAnswer(w http.ResponseWriter, r *http.Request) (appPageData, bool) {
	data, err := s.loadApp(r.Context(), r.PathValue("id"))
	if isNotFound(err) {
		s.notFound(w, r)
		return data, false
	}
	if err != nil {
		s.fail(w, r, err)
		return data, false
	}
	return data, true
}

func (s *Server) renderApp(w http.ResponseWriter, r *http.Request, status int, sess session, data appPageData) {
	s.render(w, r, status, "app", page{Title: data.App.Name, Nav: "apps", User: sess.Email, CSRF: sess.CSRF, Data: data})
}

// appStatus records a status decision with its rationale. A refused form
// is shown again in place with what was typed.
func (s *Server) appStatus(w http.ResponseWriter, r *http.Request, sess session) {
	data, ok := s.appOrAnswer(w, r)
	if !ok {
		return
	}
	form := appStatusForm{Status: collector.Status(r.PostFormValue("status")), Why: strings.TrimSpace(r.PostFormValue("why"))}
	form.Errors = validateStatus(form)
	if s.opts.Statuses == nil {
		form.Errors["status"] = "Status changes are not available on this collector."
	}
	if len(form.Errors) == 0 {
		_, err := s.opts.Statuses.SetStatus(r.Context(), collector.StatusChange{
			AppID: data.App.ID, To: form.Status, By: sess.Email, Why: form.Why, At: s.opts.Now(),
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/apps/"+pathSegment(data.App.ID)+"?saved=status#status", http.StatusSeeOther)
		return
	}
	data.Form = form
	s.renderApp(w, r, http.StatusUnprocessableEntity, sess, data)
}

// validateStatus returns the status form's problems by field; none when
// it can be recorded.
func validateStatus(f appStatusForm) map[string]string {
	errs := map[string]string{}
	if !f.Status.Valid() {
		errs["status"] = "Choose one of the statuses."
	}
	switch {
	case f.Why == "":
		errs["why"] = "Say why: the rationale is what the next person reads."
	case utf8.RuneCountInString(f.Why) > maxRationaleLen:
		errs["why"] = fmt.Sprintf("Keep the rationale under %d characters.", maxRationaleLen)
	case hasControl(f.Why, false):
		errs["why"] = "The rationale holds control characters; type it as plain text."
	}
	return errs
}

// appNotes saves the app's owner and notes.
func (s *Server) appNotes(w http.ResponseWriter, r *http.Request, sess session) {
	data, ok := s.appOrAnswer(w, r)
	if !ok {
		return
	}
	form := appNoteForm{
		Owner: strings.TrimSpace(r.PostFormValue("owner")),
		// Notes keep their lines; Windows line ends become \n so the
		// length limit counts what is shown.
		Notes: strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("notes"), "\r\n", "\n")),
	}
	form.Errors = validateNote(form)
	if s.opts.Notes == nil {
		form.Errors["notes"] = "Notes are not available on this collector."
	}
	if len(form.Errors) == 0 {
		err := s.opts.Notes.SetAppNote(r.Context(), collector.AppNote{
			AppID: data.App.ID, Owner: form.Owner, Notes: form.Notes, By: sess.Email, At: s.opts.Now(),
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/apps/"+pathSegment(data.App.ID)+"?saved=notes#notes", http.StatusSeeOther)
		return
	}
	data.NoteForm = form
	s.renderApp(w, r, http.StatusUnprocessableEntity, sess, data)
}

func validateNote(f appNoteForm) map[string]string {
	errs := map[string]string{}
	switch {
	case utf8.RuneCountInString(f.Owner) > collector.MaxAppOwnerLen:
		errs["owner"] = fmt.Sprintf("Keep the owner under %d characters: an email or a team name.", collector.MaxAppOwnerLen)
	case hasControl(f.Owner, false):
		errs["owner"] = "The owner holds control characters or line breaks; type one line."
	}
	switch {
	case utf8.RuneCountInString(f.Notes) > collector.MaxAppNotesLen:
		errs["notes"] = fmt.Sprintf("Keep the notes under %d characters; link to longer documents.", collector.MaxAppNotesLen)
	case hasControl(f.Notes, true):
		errs["notes"] = "The notes hold control characters; type them as plain text."
	}
	return errs
}

// hasControl reports whether s holds control characters (or invalid
// UTF-8); lines allows line breaks and tabs.
func hasControl(s string, lines bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if lines && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// loadApp reads everything the app page shows, with its forms holding the
// stored values. An unknown id is an error
// wrapping collector.ErrNotFound.
func (s *Server) loadApp(ctx context.Context, id string) (appPageData, error) {
	if id == "" || len(id) > maxAppIDLen || s.opts.Inventory == nil {
		return appPageData{}, fmt.Errorf("web: app %q: %w", id, collector.ErrNotFound)
	}
	detail, err := s.opts.Inventory.App(ctx, id)
	if err != nil {
		return appPageData{}, err
	}
	d := appPageData{App: detail, Statuses: statuses(), Summary: readinessSummary(detail.Readiness)}
	if s.opts.Catalog != nil {
		if a := s.opts.Catalog.App(id); a != nil {
			d.Website = a.Website
		}
	}
	if s.opts.Notes != nil {
		if d.Note, err = s.opts.Notes.AppNote(ctx, id); err != nil {
			return appPageData{}, err
		}
	}
	// The forms start from what is stored; a refused form replaces its own.
	d.NoteForm = appNoteForm{Owner: d.Note.Owner, Notes: d.Note.Notes}
	d.Form = appStatusForm{Status: detail.Status}
	if s.opts.Evidence != nil {
		ev, err := s.opts.Evidence.ListEvidence(ctx, collector.EvidenceFilter{AppID: id, Limit: peopleEvidenceRows})
		if err != nil {
			return appPageData{}, err
		}
		d.Timeline = ev[:min(len(ev), timelineRows)]
		d.TimelineMore = len(ev) > timelineRows
		d.People = peopleOf(ev)
		d.PeopleTotal = len(d.People)
		d.People = d.People[:min(len(d.People), peopleShown)]
		d.PeopleMore = len(ev) >= peopleEvidenceRows
		if d.Invoices, err = s.opts.Evidence.ListEvidence(ctx, collector.EvidenceFilter{AppID: id, Source: collector.SourceInvoice, Limit: timelineRows}); err != nil {
			return appPageData{}, err
		}
	}
	if s.opts.Grants != nil {
		grants, err := s.opts.Grants.CurrentGrants(ctx)
		if err != nil {
			return appPageData{}, err
		}
		d.Grants = s.grantViews(grants, id)
		d.GrantsTotal = len(d.Grants)
		d.Grants = d.Grants[:min(len(d.Grants), grantsShown)]
	}
	if s.opts.IdPApps != nil {
		apps, err := s.opts.IdPApps.IdPApps(ctx)
		if err != nil {
			return appPageData{}, err
		}
		for _, a := range apps {
			if a.AppID == id {
				d.IdPApps = append(d.IdPApps, a)
			}
		}
	}
	return d, nil
}

// statuses lists the statuses in the order the form offers them.
func statuses() []collector.Status {
	return []collector.Status{collector.StatusUnreviewed, collector.StatusApproved, collector.StatusTolerated,
		collector.StatusNotPermitted, collector.StatusIgnored}
}

// peopleOf lists the people in evidence rows with their last seen and
// how they were seen, most recently seen first.
func peopleOf(ev []collector.Evidence) []personSeen {
	byEmail := map[string]int{}
	var out []personSeen
	for _, e := range ev {
		if e.Person == "" {
			continue
		}
		i, ok := byEmail[e.Person]
		if !ok {
			i = len(out)
			byEmail[e.Person] = i
			out = append(out, personSeen{Email: e.Person})
		}
		p := &out[i]
		if e.LastSeen.After(p.LastSeen) {
			p.LastSeen = e.LastSeen
		}
		if !slices.Contains(p.Sources, e.Source) {
			p.Sources = append(p.Sources, e.Source)
		}
	}
	for i := range out {
		slices.Sort(out[i].Sources)
	}
	slices.SortFunc(out, func(a, b personSeen) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.Email, b.Email)
	})
	return out
}

// grantViews keeps the grants to app and labels each scope with the
// catalog's scope table; grants with a high-risk scope come first.
func (s *Server) grantViews(grants []collector.OAuthGrant, app string) []grantView {
	var out []grantView
	for _, g := range grants {
		if g.AppID != app {
			continue
		}
		v := grantView{Person: g.Person, Provider: g.Provider, ClientID: g.ClientID, Name: g.Name, GrantedAt: g.GrantedAt}
		for _, sc := range g.Scopes {
			sv := scopeView{Scope: sc}
			if s.opts.Catalog != nil {
				if risk := s.opts.Catalog.ScopeRisk(g.Provider, sc); risk != nil {
					sv.Level, sv.Reason = risk.Level, risk.Reason
				}
			}
			v.High = v.High || sv.Level == "high"
			v.Scopes = append(v.Scopes, sv)
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b grantView) int {
		if a.High != b.High {
			if a.High {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Person, b.Person)
	})
	return out
}
