package google

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	directory "google.golang.org/api/admin/directory/v1"
	reports "google.golang.org/api/admin/reports/v1"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// storeEvery is how many rows a file import gathers before it stores
// them: the store commits a call at once, so big calls are fast.
const storeEvery = 1000

// FileImporter imports files an admin saved: Reports API activities.list
// responses (token and saml), Directory API tokens.list and users.list
// responses, and the Admin console CSV exports of the OAuth token audit
// log and of accessed apps. It tells them apart by their content.
type FileImporter struct {
	paths []string
}

// NewFileImporter imports the files at paths, in order.
func NewFileImporter(paths []string) sources.Importer {
	return &FileImporter{paths: paths}
}

// Name is the source's name, the same as the API importer's.
func (f *FileImporter) Name() string { return Source }

// fileKind is what a file holds.
type fileKind int

const (
	kindUnknown fileKind = iota
	kindActivities
	kindTokens
	kindUsers
	kindTokenAuditCSV
	kindAccessedAppsCSV
)

// fileRun is one file import's state: users from users.list files name
// the people behind tokens.list userKeys, and revokes wait for every
// grant to be stored.
type fileRun struct {
	env     *sources.Env
	userIDs map[string]string // Directory user id -> primary email
	revokes map[grantKey]event
	b       *batch
}

// Import reads every file. users.list files are read first, so tokens of
// any file can be named by email. A file that cannot be read stops the
// import with an error naming it; rows stored before stay, with the
// revokes they hold, and their dedupe keys make importing the file again
// harmless. A token audit export with a time whose UTC offset it does not
// give is refused whole, before any of its rows is stored.
func (f *FileImporter) Import(ctx context.Context, env *sources.Env) error {
	run := &fileRun{env: env, userIDs: map[string]string{}, revokes: map[grantKey]event{}, b: newBatch()}
	type loaded struct {
		path string
		text string
		kind fileKind
	}
	var files []loaded
	for _, p := range f.paths {
		text, err := readFile(p)
		if err != nil {
			return err
		}
		kind, err := detect(text)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if kind == kindUsers {
			if err := run.users(text); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			continue
		}
		files = append(files, loaded{p, text, kind})
	}
	for _, file := range files {
		env.Progress.SetStage("file " + file.path)
		var err error
		switch file.kind {
		case kindActivities:
			err = run.activities(ctx, file.text)
		case kindTokens:
			err = run.tokens(ctx, file.text)
		case kindTokenAuditCSV:
			err = run.tokenAuditCSV(ctx, file.text)
		case kindAccessedAppsCSV:
			err = run.accessedAppsCSV(ctx, file.text)
		}
		if err == nil {
			err = run.flush(ctx)
		}
		if err != nil {
			// The files before this one are stored: their revokes end
			// their grants now, not at the next import that gets through.
			if rerr := applyRevokes(ctx, env, run.revokes); rerr != nil {
				return errors.Join(fmt.Errorf("%s: %w", file.path, err), fmt.Errorf("google token revokes: %w", rerr))
			}
			return fmt.Errorf("%s: %w", file.path, err)
		}
	}
	if err := applyRevokes(ctx, env, run.revokes); err != nil {
		return fmt.Errorf("google token revokes: %w", err)
	}
	return nil
}

func readFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, sources.MaxFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > sources.MaxFileBytes {
		return "", fmt.Errorf("%s: larger than %d bytes", path, sources.MaxFileBytes)
	}
	text, err := sources.DecodeText(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return text, nil
}

// detect tells a file's kind from its content: a JSON API response by its
// kind or the shape of its items, a CSV export by its columns.
func detect(text string) (fileKind, error) {
	trimmed := strings.TrimSpace(text)
	if strings.HasPrefix(trimmed, "{") {
		// The kind alone first: it spares copying every item of a big
		// file just to look at one.
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(trimmed), &kind); err != nil {
			return kindUnknown, fmt.Errorf("not a Google API response: %w", err)
		}
		switch kind.Kind {
		case "admin#reports#activities":
			return kindActivities, nil
		case "admin#directory#tokenList":
			return kindTokens, nil
		case "admin#directory#users":
			return kindUsers, nil
		}
		var head struct {
			Items []json.RawMessage `json:"items"`
			Users []json.RawMessage `json:"users"`
		}
		if err := json.Unmarshal([]byte(trimmed), &head); err != nil {
			return kindUnknown, fmt.Errorf("not a Google API response: %w", err)
		}
		if len(head.Users) > 0 {
			return kindUsers, nil
		}
		if len(head.Items) > 0 {
			var item struct {
				ID       json.RawMessage `json:"id"`
				ClientID string          `json:"clientId"`
			}
			// An item that is not an object is left to the full decode
			// to report.
			_ = json.Unmarshal(head.Items[0], &item)
			switch {
			case item.ClientID != "":
				return kindTokens, nil
			case bytes.HasPrefix(bytes.TrimSpace(item.ID), []byte("{")):
				return kindActivities, nil
			}
		}
		return kindUnknown, errors.New(`a JSON file without a known "kind": want an activities.list, tokens.list or users.list response`)
	}
	c, err := sources.NewCSVText(text)
	if err != nil {
		return kindUnknown, err
	}
	switch {
	case c.Has(colEvent...) && c.Has(colDate...) && c.Has(colUser...):
		return kindTokenAuditCSV, nil
	case c.Has(colAppName...) && (c.Has(colUsers...) || c.Has(colScopes...) || c.Has(colClientID...)):
		return kindAccessedAppsCSV, nil
	}
	return kindUnknown, errors.New("not a Google export: want the OAuth token audit log (Event, Date, User, App name, Client ID, Scope) or accessed apps (App name, Client ID, Users, Scopes) CSV, or an API response in JSON")
}

// colDateUTC is a date column whose name says its zone-less times are UTC.
const colDateUTC = "Date (UTC)"

// The column names of the Admin console exports, and the names
// spreadsheets and older consoles use for them.
var (
	colEvent     = []string{"Event", "Event name", "Event Name", "Action"}
	colDate      = []string{"Date", "Time", "Timestamp", colDateUTC}
	colUser      = []string{"User", "Actor", "User email", "Email", "Actor email"}
	colAppName   = []string{"App name", "Application name", "App", "Application", "OAuth app name"}
	colClientID  = []string{"Client ID", "OAuth client ID", "ID", "App ID"}
	colScopeOnly = []string{"Scope", "Scopes", "API scopes", "Requested scopes"}
	colScopes    = []string{"Scope", "Scopes", "API scopes", "Requested scopes", "Requested services"}
	colUsers     = []string{"Users", "Users count", "User count", "Number of users"}
)

func (r *fileRun) flush(ctx context.Context) error {
	for k, e := range r.b.revokes {
		if prev, ok := r.revokes[k]; !ok || e.Time.After(prev.Time) {
			r.revokes[k] = e
		}
	}
	clear(r.b.revokes)
	return r.b.store(ctx, r.env, false)
}

// maybeFlush stores the batch once it is big enough.
func (r *fileRun) maybeFlush(ctx context.Context) error {
	if r.b.size() < storeEvery {
		return nil
	}
	return r.flush(ctx)
}

// activities imports an activities.list response: token and saml events.
func (r *fileRun) activities(ctx context.Context, text string) error {
	events, skipped, err := decodeActivities([]byte(text))
	if err != nil {
		return err
	}
	r.env.Progress.AddEvents(int64(skipped))
	for _, e := range events {
		r.env.Progress.AddEvents(1)
		r.b.add(r.env.Catalog, e, "google:")
		if err := r.maybeFlush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// decodeActivities parses an activities.list response into events.
func decodeActivities(data []byte) (events []event, skipped int, err error) {
	var page reports.Activities
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, 0, fmt.Errorf("decode activities: %w", err)
	}
	for _, a := range page.Items {
		ev, sk := flatten(a)
		events = append(events, ev...)
		skipped += sk
	}
	return events, skipped, nil
}

// users reads a users.list response: the ids tokens.list files name.
func (r *fileRun) users(text string) error {
	var page directory.Users
	if err := json.Unmarshal([]byte(text), &page); err != nil {
		return fmt.Errorf("decode users: %w", err)
	}
	for _, u := range page.Users {
		if u != nil && u.Id != "" && strings.Contains(u.PrimaryEmail, "@") {
			r.userIDs[u.Id] = strings.ToLower(u.PrimaryEmail)
		}
	}
	return nil
}

// tokens imports a tokens.list response as grants that stood when it
// was saved. The file holds no time, so it adds grants and ends none.
func (r *fileRun) tokens(ctx context.Context, text string) error {
	tokens, err := decodeTokens([]byte(text))
	if err != nil {
		return err
	}
	at := r.env.Now()
	var unnamed int
	for _, t := range tokens {
		r.env.Progress.AddEvents(1)
		user := strings.ToLower(strings.TrimSpace(t.UserKey))
		if email, ok := r.userIDs[t.UserKey]; ok {
			user = email
		}
		g, ok := tokenGrant(r.env, t, user, at)
		if !ok {
			unnamed++
			continue
		}
		r.b.addGrant(g)
		if err := r.maybeFlush(ctx); err != nil {
			return err
		}
	}
	if unnamed > 0 {
		r.env.Log.Warn("tokens skipped: no client id, or a userKey that is not an email (import the users.list response with them to name users by id)", "tokens", unnamed)
	}
	return nil
}

// decodeTokens parses a tokens.list response.
func decodeTokens(data []byte) ([]*directory.Token, error) {
	var list directory.Tokens
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decode tokens: %w", err)
	}
	return list.Items, nil
}

// tokenAuditCSV imports the Admin console's OAuth token audit log export.
// A time whose UTC offset the file does not give refuses the whole file
// before anything of it is stored: guessing would key the grant to the
// wrong second, so the same grant from the Reports API would be stored a
// second time, at a wrong time.
func (r *fileRun) tokenAuditCSV(ctx context.Context, text string) error {
	c, err := sources.NewCSVText(text)
	if err != nil {
		return err
	}
	column, zoneless := auditDateColumn(c)
	if err := checkAuditTimes(text, column, zoneless); err != nil {
		return err
	}
	var bad int
	for {
		row, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		r.env.Progress.AddEvents(1)
		e, ok, err := auditRow(row, zoneless)
		if err != nil {
			return fmt.Errorf("line %d: %w", row.Line, err)
		}
		if !ok {
			bad++
			continue
		}
		r.b.add(r.env.Catalog, e, "google-csv:")
		if err := r.maybeFlush(ctx); err != nil {
			return err
		}
	}
	if bad > 0 {
		r.env.Log.Warn("token audit rows skipped: no date, user or client id", "rows", bad)
	}
	return nil
}

// auditDateColumn is the name of the date column a token audit export's
// rows are read from, and the zone its zone-less times are in: UTC when
// that column says so in its name, else nil (such times are refused).
func auditDateColumn(c *sources.CSV) (string, *time.Location) {
	for _, name := range colDate {
		if c.Has(name) {
			if name == colDateUTC {
				return name, time.UTC
			}
			return name, nil
		}
	}
	return colDate[0], nil
}

// checkAuditTimes reads the date column of every row first, so that a
// file with a time of unknown offset is refused whole rather than stored
// up to that row.
func checkAuditTimes(text, column string, zoneless *time.Location) error {
	c, err := sources.NewCSVText(text)
	if err != nil {
		return err
	}
	for {
		row, err := c.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = parseExportTime(row.Get(colDate...), zoneless)
		if !errors.Is(err, errUnknownOffset) {
			continue
		}
		fix := "export the log again with times in UTC or with their UTC offset (like 2026-11-12T09:15:02Z or 2026-11-12T01:15:02-08:00)"
		if errors.Is(err, errNoZone) {
			fix += `, or, if every time in the column is UTC, rename the column "` + colDateUTC + `"`
		}
		return fmt.Errorf("line %d, column %q: %w; nothing from this file was imported: %s", row.Line, column, err, fix)
	}
}

// auditRow reads one row of the token audit export. Rows of other events
// (activity, request, deny) come back with their name, and add ignores
// them. A row without a usable date or user is not ok; a time with no
// known UTC offset is an error.
func auditRow(row sources.Row, zoneless *time.Location) (event, bool, error) {
	when, err := parseExportTime(row.Get(colDate...), zoneless)
	if errors.Is(err, errUnknownOffset) {
		return event{}, false, err
	}
	person := strings.ToLower(row.Get(colUser...))
	if err != nil || !strings.Contains(person, "@") {
		return event{}, false, nil
	}
	name := strings.ToLower(strings.Join(strings.Fields(row.Get(colEvent...)), "_"))
	switch name {
	case "authorize", "authorized", "oauth_grant", "grant":
		name = "authorize"
	case "revoke", "revoked", "oauth_revoke":
		name = "revoke"
	}
	e := event{
		App: "token", Name: name, Person: person, Time: when,
		ClientID: row.Get(colClientID...), AppName: row.Get(colAppName...),
		Scopes: rowScopes(row),
	}
	// The export has no event id: the row's content is its identity. The
	// evidence key is tokenEvidenceKey's, shared with the API's events.
	sum := sha256.Sum256([]byte(strings.Join([]string{when.Format(time.RFC3339Nano), person, name, e.ClientID, strings.Join(e.Scopes, " ")}, "\x00")))
	e.Key = hex.EncodeToString(sum[:12])
	return e, true, nil
}

// errUnknownOffset marks a date that reads as a time but does not say
// which instant it is: the file must be exported again, not skipped row
// by row.
var errUnknownOffset = errors.New("the time does not give its UTC offset")

// errNoZone is errUnknownOffset for a time with no zone at all.
var errNoZone = fmt.Errorf("%w: it has no time zone", errUnknownOffset)

// errNotATime marks a value that is no date at all; its row is skipped.
var errNotATime = errors.New("not a date and time")

// parseExportTime reads the Date column of an Admin console export: RFC
// 3339 (what the export writes), or a form spreadsheets resave it in,
// followed by a zone that fixes the offset: UTC, GMT, Z, a number
// ("-0800", "+01:00") or GMT/UTC with one ("GMT-8", "UTC+05:30").
//
// Zone abbreviations (PST, CET, IST) are refused: they are ambiguous, and
// Go's time.Parse reads one it does not know as offset zero. A time with
// no zone is read in zoneless, or refused when zoneless is nil. Both
// refusals wrap errUnknownOffset; a value that is no date wraps
// errNotATime.
func parseExportTime(s string, zoneless *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty", errNotATime)
	}
	// Layouts that carry their UTC offset as a number or Z.
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02T15:04:05Z0700",
		"2006-01-02 15:04:05Z0700",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if _, ok := parseLocal(s, time.UTC); ok {
		if zoneless == nil {
			return time.Time{}, fmt.Errorf("%q: %w", s, errNoZone)
		}
		t, _ := parseLocal(s, zoneless)
		return t.UTC(), nil
	}
	base, zone, found := cutLast(s)
	if !found {
		return time.Time{}, fmt.Errorf("%q: %w", s, errNotATime)
	}
	if _, ok := parseLocal(base, time.UTC); !ok {
		return time.Time{}, fmt.Errorf("%q: %w", s, errNotATime)
	}
	loc, ok := zoneOffset(zone)
	if !ok {
		return time.Time{}, fmt.Errorf("%q: %w: %q is not UTC, GMT or a numeric offset, and abbreviations like it name different offsets in different places", s, errUnknownOffset, zone)
	}
	t, _ := parseLocal(base, loc)
	return t.UTC(), nil
}

// parseLocal reads s in loc, in one of the zone-less forms spreadsheets
// resave the Date column in, or the console's display form before its
// zone.
func parseLocal(s string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05",
		"2006-01-02 15:04",
		"Jan 2, 2006, 3:04:05 PM",
		"01/02/2006 15:04:05",
		"1/2/2006 15:04",
	} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// cutLast splits s at its last space: the time, then its zone.
func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return "", "", false
	}
	return strings.TrimSpace(s[:i]), s[i+1:], true
}

// zoneOffset is the fixed zone a zone word names: UTC, GMT or Z, a
// numeric offset ("+0100", "-08:00"), or UTC/GMT followed by one ("GMT+1",
// "UTC-08:00"); false for anything else.
func zoneOffset(zone string) (*time.Location, bool) {
	upper := strings.ToUpper(zone)
	switch upper {
	case "UTC", "GMT", "Z":
		return time.UTC, true
	}
	num := upper
	if rest, ok := strings.CutPrefix(upper, "UTC"); ok {
		num = rest
	} else if rest, ok := strings.CutPrefix(upper, "GMT"); ok {
		num = rest
	}
	if len(num) < 2 || (num[0] != '+' && num[0] != '-') {
		return nil, false
	}
	sign, digits := num[0], num[1:]
	hours, minutes := digits, "0"
	switch {
	case strings.Contains(digits, ":"):
		hours, minutes, _ = strings.Cut(digits, ":")
		if len(minutes) != 2 {
			return nil, false
		}
	case len(digits) == 4:
		hours, minutes = digits[:2], digits[2:]
	case len(digits) > 2:
		return nil, false
	}
	h, err := strconv.Atoi(hours)
	if err != nil || len(hours) == 0 || len(hours) > 2 || h > 14 || hours[0] == '+' || hours[0] == '-' {
		return nil, false
	}
	m, err := strconv.Atoi(minutes)
	if err != nil || m > 59 || minutes[0] == '+' || minutes[0] == '-' {
		return nil, false
	}
	offset := h*3600 + m*60
	if sign == '-' {
		offset = -offset
	}
	if offset == 0 {
		return time.UTC, true
	}
	return time.FixedZone(zone, offset), true
}

// accessedAppsCSV imports the Admin console's accessed apps export (App
// access control). It has no time and usually counts users instead of
// naming them: apps the catalog knows become evidence that someone in the
// company granted them access; when the Users column names people, each
// gets a grant.
func (r *fileRun) accessedAppsCSV(ctx context.Context, text string) error {
	c, err := sources.NewCSVText(text)
	if err != nil {
		return err
	}
	now := r.env.Now().UTC()
	for {
		row, err := c.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		r.env.Progress.AddEvents(1)
		name, client := row.Get(colAppName...), row.Get(colClientID...)
		if name == "" && client == "" {
			continue
		}
		// "Requested services" names Google products, not scopes.
		scopes := rowScopes(row)
		appID := oauthApp(r.env.Catalog, client, name)
		people := usersCell(row.Get(colUsers...))
		if appID != "" {
			id := client
			if id == "" {
				id = name
			}
			r.b.evidence = append(r.b.evidence, collector.Evidence{
				AppID: appID, Source: collector.SourceOAuthGrant,
				Day: now.Format(time.DateOnly), FirstSeen: now, LastSeen: now, Count: 1,
				Detail:    strings.Join(scopes, " "),
				DedupeKey: string(collector.SourceOAuthGrant) + ":google-accessed-app:" + strings.ToLower(id),
			})
		}
		for _, p := range people {
			if client == "" {
				break
			}
			r.b.addGrant(collector.OAuthGrant{
				Provider: provider, Person: p, ClientID: client, AppID: appID, Name: name, Scopes: scopes, SeenAt: now,
			})
		}
		if err := r.maybeFlush(ctx); err != nil {
			return err
		}
	}
}

// rowScopes reads an export row's scopes: its Scope column, or, in
// exports without one, the scopes its Description's prose names.
func rowScopes(row sources.Row) []string {
	if scopes := cleanScopes([]string{row.Get(colScopeOnly...)}); len(scopes) > 0 {
		return scopes
	}
	return scopesInText(row.Get("Description"))
}

// scopesInText finds the scopes in a Description column's prose ("x
// authorized access to Y for https://...gmail.readonly, openid"), for
// exports without a Scope column.
func scopesInText(text string) []string {
	var out []string
	for _, w := range cleanScopes([]string{text}) {
		w = strings.TrimRight(w, ".;")
		switch {
		case strings.HasPrefix(w, "https://"), w == "openid", w == "email", w == "profile":
			out = append(out, w)
		}
	}
	return cleanScopes(out)
}

// usersCell reads the Users column: a count (no one named) or emails.
func usersCell(s string) []string {
	if _, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' }) {
		if f = strings.ToLower(strings.TrimSpace(f)); strings.Contains(f, "@") {
			out = append(out, f)
		}
	}
	return out
}
