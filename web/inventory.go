package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/internal/secret"
)

// StatusSetter records IT's decision about an app and its history entry
// (collector.AppStateStore.SetStatus).
type StatusSetter interface {
	SetStatus(ctx context.Context, c collector.StatusChange) (collector.StatusChange, error)
}

const (
	// appsPerPage keeps the inventory page far under 300 KB.
	appsPerPage = 50
	// maxStatusWhy bounds a decision's rationale, in characters.
	maxStatusWhy = 1000
	// maxBulkIDs bounds one bulk change: more than any page shows, few
	// enough that one request stays short.
	maxBulkIDs = 1000
	// maxStatusForm caps the bulk form's body.
	maxStatusForm = 128 << 10
)

func (s *Server) inventoryRoutes() {
	s.mux.HandleFunc("GET /{$}", s.signedIn(s.overviewPage))
	s.mux.HandleFunc("GET /apps", s.signedIn(s.appsPage))
	s.mux.HandleFunc("GET /apps.csv", s.signedIn(s.appsCSV))
	// The body is capped before signedIn reads the CSRF field from it.
	s.mux.HandleFunc("POST /apps/status", limitBody(maxStatusForm, s.signedIn(s.appsStatus)))
}

// appsFilter is what the inventory table shows, as the URL says it. Its
// fields are valid once filterFrom built it.
type appsFilter struct {
	Status   string
	Flag     string
	Source   string
	Category string
	Text     string
	Sort     string // "" is the inventory's default, people
	Order    string // "" is the sort key's default
	Page     int
}

// filterFrom reads a filter from URL values. An unknown value is dropped
// with a message saying so, so a stale bookmark still shows a page.
func filterFrom(v url.Values) (appsFilter, []string) {
	f := appsFilter{
		Status: v.Get("status"), Flag: v.Get("flag"), Source: v.Get("source"),
		Category: strings.TrimSpace(v.Get("category")), Text: strings.TrimSpace(v.Get("q")),
		Sort: v.Get("sort"), Order: v.Get("order"), Page: 1,
	}
	var problems []string
	if f.Status != "" && !collector.Status(f.Status).Valid() {
		problems = append(problems, fmt.Sprintf("There is no status %q; showing every status.", f.Status))
		f.Status = ""
	}
	if f.Flag != "" && !inventory.Flag(f.Flag).Valid() {
		problems = append(problems, fmt.Sprintf("There is no flag %q; showing every app.", f.Flag))
		f.Flag = ""
	}
	if f.Source != "" && !collector.Source(f.Source).Valid() {
		problems = append(problems, fmt.Sprintf("There is no source %q; showing every source.", f.Source))
		f.Source = ""
	}
	if f.Sort != "" && !slices.Contains(inventory.SortKeys(), f.Sort) {
		problems = append(problems, fmt.Sprintf("The list cannot be sorted by %q; it is sorted by people.", f.Sort))
		f.Sort = ""
	}
	if f.Order != "" && f.Order != "asc" && f.Order != "desc" {
		problems = append(problems, "The order must be ascending or descending.")
		f.Order = ""
	}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Sprintf("Page %q is not a page number; showing page 1.", p))
		} else {
			f.Page = n
		}
	}
	return f, problems
}

func (f appsFilter) query() inventory.Query {
	return inventory.Query{
		Status: collector.Status(f.Status), Flag: inventory.Flag(f.Flag), Source: collector.Source(f.Source),
		Category: f.Category, Text: f.Text, Sort: f.Sort, Order: f.Order, Page: f.Page, Limit: appsPerPage,
	}
}

// values are the URL values of f, without empty ones and without page 1,
// so links stay short.
func (f appsFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "flag": f.Flag, "source": f.Source,
		"category": f.Category, "q": f.Text, "sort": f.Sort, "order": f.Order} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Page > 1 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	return v
}

// url is the inventory page showing f.
func (f appsFilter) url(path string) string {
	if enc := f.values().Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// sortKey is the sort in effect, with the inventory's defaults filled in.
func (f appsFilter) sortKey() (key, order string) {
	key, order = f.Sort, f.Order
	if key == "" {
		key = inventory.SortPeople
	}
	if order == "" {
		order = "desc"
		if key == inventory.SortName {
			order = "asc"
		}
	}
	return key, order
}

// appsData is what apps.html shows.
type appsData struct {
	Filter   appsFilter
	Problems []string // about the filter, shown above the table
	Notice   string   // what the last bulk change did

	Statuses   []collector.Status
	Flags      []inventory.Flag
	Sources    []collector.Source
	Categories []string
	SortKeys   []string

	Rows        []inventory.AppRow
	Total       int
	First, Last int // 1-based row numbers shown
	Pages       []pageLink
	PrevURL     string
	NextURL     string
	// Sorts holds, per sort key, the link that sorts by it and the
	// direction it currently sorts in ("" when it is not the key).
	Sorts  map[string]sortLink
	CSVURL string
	// Back is the filter's query string, carried by the bulk form so the
	// table comes back as it was.
	Back string
	Form statusForm
}

type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool // an ellipsis between page numbers
}

type sortLink struct {
	URL string
	// Dir is "ascending" or "descending" for the key in effect, for
	// aria-sort and the arrow; "" otherwise.
	Dir string
}

// statusForm is the bulk status form, with what was entered and the
// errors to show beside each field.
type statusForm struct {
	Status string
	Why    string
	IDs    map[string]bool
	Errors map[string]string // by field: status, why, ids
}

func (s *Server) appsPage(w http.ResponseWriter, r *http.Request, sess session) {
	f, problems := filterFrom(r.URL.Query())
	status := http.StatusOK
	if len(problems) > 0 {
		status = http.StatusBadRequest
	}
	d := appsData{Problems: problems, Notice: bulkNotice(r.URL.Query())}
	s.renderApps(w, r, sess, status, f, d)
}

// bulkNotice says what a bulk change did, from the redirect after it.
func bulkNotice(v url.Values) string {
	n, err := strconv.Atoi(v.Get("changed"))
	to := collector.Status(v.Get("to"))
	if err != nil || n < 1 || !to.Valid() {
		return ""
	}
	return fmt.Sprintf("Set %d %s to %s.", n, plural(n, "app", "apps"), statusLabel(to))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// renderApps reads the page of the inventory f selects and renders it
// with d's messages and form.
func (s *Server) renderApps(w http.ResponseWriter, r *http.Request, sess session, status int, f appsFilter, d appsData) {
	res, err := s.opts.Inventory.Apps(r.Context(), f.query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Filter = f
	d.Rows = res.Apps
	d.Total = res.Total
	if len(res.Apps) > 0 {
		d.First = (res.Page-1)*res.Limit + 1
		d.Last = d.First + len(res.Apps) - 1
	}
	d.Statuses = statuses()
	d.Flags = inventory.Flags()
	d.Sources = collector.Sources()
	d.SortKeys = inventory.SortKeys()
	d.Categories = s.categories(f.Category)
	pages := (res.Total + appsPerPage - 1) / appsPerPage
	d.Pages = pageLinks(f, pages)
	if f.Page > 1 && f.Page <= pages {
		prev := f
		prev.Page--
		d.PrevURL = prev.url("/apps")
	}
	if f.Page < pages {
		next := f
		next.Page++
		d.NextURL = next.url("/apps")
	}
	d.Sorts = sortLinks(f)
	all := f
	all.Page = 1
	d.CSVURL = all.url("/apps.csv")
	d.Back = f.values().Encode()
	if d.Form.IDs == nil {
		d.Form.IDs = map[string]bool{}
	}
	s.render(w, r, status, "apps", page{Title: "Inventory", Nav: "apps", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

// pageLinks lists the first, last and nearby pages, with gaps between,
// so a 40-page inventory does not print 40 links.
func pageLinks(f appsFilter, pages int) []pageLink {
	if pages <= 1 {
		return nil
	}
	var out []pageLink
	last := 0
	for n := 1; n <= pages; n++ {
		if n != 1 && n != pages && (n < f.Page-2 || n > f.Page+2) {
			continue
		}
		if last != 0 && n > last+1 {
			out = append(out, pageLink{Gap: true})
		}
		p := f
		p.Page = n
		out = append(out, pageLink{N: n, URL: p.url("/apps"), Current: n == f.Page})
		last = n
	}
	return out
}

// sortLinks builds the column-header links: a column sorts by its key
// from page 1, and clicking the column in effect flips the order.
func sortLinks(f appsFilter) map[string]sortLink {
	key, order := f.sortKey()
	out := make(map[string]sortLink, len(inventory.SortKeys()))
	for _, k := range inventory.SortKeys() {
		g := f
		g.Page = 1
		g.Sort = k
		g.Order = ""
		l := sortLink{}
		if k == key {
			l.Dir = map[string]string{"asc": "ascending", "desc": "descending"}[order]
			g.Order = map[string]string{"asc": "desc", "desc": "asc"}[order]
		}
		if g.Sort == inventory.SortPeople && g.Order == "" {
			g.Sort = "" // the default needs no parameter
		}
		l.URL = g.url("/apps")
		out[k] = l
	}
	return out
}

// categories are the catalog's categories for the filter, plus the one
// asked for if the catalog does not have it (an app entered by hand).
func (s *Server) categories(current string) []string {
	var out []string
	if s.opts.Catalog != nil {
		for _, a := range s.opts.Catalog.Apps {
			if a.Category != "" && !slices.Contains(out, a.Category) {
				out = append(out, a.Category)
			}
		}
	}
	if current != "" && !slices.Contains(out, strings.ToLower(current)) {
		out = append(out, strings.ToLower(current))
	}
	slices.Sort(out)
	return out
}

// appsStatus is the bulk status change: every ticked app gets the status
// and the rationale, recorded with the admin's email as who decided.
func (s *Server) appsStatus(w http.ResponseWriter, r *http.Request, sess session) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read; go back and try again.", http.StatusBadRequest)
		return
	}
	// signedIn checks the token too; this handler checks it again so a
	// change of status never depends on one layer alone.
	if !secret.Equal(sess.CSRF, r.PostForm.Get("csrf")) {
		http.Error(w, "The form has expired; reload the page and try again.", http.StatusForbidden)
		return
	}
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	f, _ := filterFrom(back)

	form := statusForm{
		Status: r.PostForm.Get("status"),
		Why:    strings.TrimSpace(r.PostForm.Get("why")),
		IDs:    map[string]bool{},
		Errors: map[string]string{},
	}
	var ids []string
	for _, id := range r.PostForm["id"] {
		if id != "" && !form.IDs[id] {
			form.IDs[id] = true
			ids = append(ids, id)
		}
	}
	to := collector.Status(form.Status)
	if !to.Valid() {
		form.Errors["status"] = "Choose the status to set."
	}
	switch {
	case form.Why == "":
		form.Errors["why"] = "Say why: the reason is kept in each app's history."
	case utf8.RuneCountInString(form.Why) > maxStatusWhy:
		form.Errors["why"] = fmt.Sprintf("Keep the reason under %d characters.", maxStatusWhy)
	}
	switch {
	case len(ids) == 0:
		form.Errors["ids"] = "Tick at least one app."
	case len(ids) > maxBulkIDs:
		form.Errors["ids"] = fmt.Sprintf("Change at most %d apps at once.", maxBulkIDs)
	default:
		unknown, err := s.unknownApps(r.Context(), ids)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(unknown) > 0 {
			form.Errors["ids"] = fmt.Sprintf("The inventory has no app %s.", strings.Join(quoteAll(unknown), ", "))
		}
	}
	if len(form.Errors) > 0 {
		s.renderApps(w, r, sess, http.StatusUnprocessableEntity, f, appsData{Form: form})
		return
	}
	for _, id := range ids {
		if _, err := s.opts.Statuses.SetStatus(r.Context(), collector.StatusChange{AppID: id, To: to, By: sess.Email, Why: form.Why}); err != nil {
			s.fail(w, r, fmt.Errorf("set status of %s: %w", id, err))
			return
		}
	}
	s.log.Info("web: bulk status change", "apps", len(ids), "status", to, "by", sess.Email)
	v := f.values()
	v.Set("changed", strconv.Itoa(len(ids)))
	v.Set("to", string(to))
	http.Redirect(w, r, "/apps?"+v.Encode(), http.StatusSeeOther)
}

// unknownApps returns the ids the inventory does not list, so a forged
// form cannot create states for apps nobody has seen.
func (s *Server) unknownApps(ctx context.Context, ids []string) ([]string, error) {
	rows, err := s.allApps(ctx, inventory.Query{})
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(rows))
	for _, a := range rows {
		known[a.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !known[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// allAppsReader is an inventory that lists every app in one read of the
// store (*inventory.Inventory does); others are paged through.
type allAppsReader interface {
	AllApps(ctx context.Context, q inventory.Query) ([]inventory.AppRow, error)
}

// allApps reads every app q selects.
func (s *Server) allApps(ctx context.Context, q inventory.Query) ([]inventory.AppRow, error) {
	if all, ok := s.opts.Inventory.(allAppsReader); ok {
		return all.AllApps(ctx, q)
	}
	q.Limit = inventory.MaxLimit
	var rows []inventory.AppRow
	for q.Page = 1; ; q.Page++ {
		p, err := s.opts.Inventory.Apps(ctx, q)
		if err != nil {
			return nil, err
		}
		rows = append(rows, p.Apps...)
		// An empty page ends the loop even if apps vanish meanwhile.
		if len(p.Apps) == 0 || len(rows) >= p.Total {
			return rows, nil
		}
	}
}

// appsCSV exports the filtered inventory, every page of it, with the
// same columns and formula escaping as the API's export.
func (s *Server) appsCSV(w http.ResponseWriter, r *http.Request, sess session) {
	f, problems := filterFrom(r.URL.Query())
	if len(problems) > 0 {
		http.Error(w, strings.Join(problems, "\n"), http.StatusBadRequest)
		return
	}
	rows, err := s.allApps(r.Context(), f.query())
	if err != nil {
		if errors.Is(err, inventory.ErrInvalidQuery) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.fail(w, r, err)
		return
	}
	// Written to a buffer first, so a failure is a clean 500 rather than
	// half a file.
	var buf bytes.Buffer
	if err := inventory.WriteCSV(&buf, rows); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="shadowmap-apps.csv"`)
	_, _ = buf.WriteTo(w)
}
