package digest

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

// How many lines a section shows: the summary must fit one screen, and the
// detail must not turn a 500-app inventory into a 500-row email; both end
// with "and N more" linking to the full list in the web view.
const (
	SummaryLines = 5
	DetailLines  = 25
)

//go:embed templates
var templateFS embed.FS

var (
	textTmpl = texttemplate.Must(texttemplate.New("digest.txt.tmpl").Funcs(texttemplate.FuncMap{
		// inc skips the first column, the app name, which heads each line.
		"inc": func(i int) int { return i + 1 },
	}).ParseFS(templateFS, "templates/digest.txt.tmpl"))
	htmlTmpl = htmltemplate.Must(htmltemplate.New("digest.html.tmpl").ParseFS(templateFS, "templates/digest.html.tmpl"))
)

// view is the digest laid out for the templates: every string and link
// is computed here, so the templates only place them and html/template
// escapes every one.
type view struct {
	Subject   string
	Company   string
	Week      string // 2026-W48
	Period    string // Mon 23 Nov 2026 to Sun 29 Nov 2026
	Counts    string // the subject's counts, for the first line of the body
	Empty     bool
	Outside   int
	HomeURL   string
	Summary   []section
	Details   []section
	Generated string
}

// section is one heading with its lines; in Details, Columns and each
// line's Cells make a table.
type section struct {
	Title   string
	URL     string // the full list in the web view
	Lines   []line
	More    int
	Columns []string
}

type line struct {
	Name  string
	URL   string
	Info  string
	Cells []string
}

// Message renders the digest as an email. baseURL is the web view's
// address (https://shadowmap.example.com); company names the recipient's
// organisation in the heading and may be "".
func (d Digest) Message(baseURL, company string) Message {
	v := d.view(strings.TrimRight(baseURL, "/"), oneLine(company))
	var txt, html bytes.Buffer
	// The templates are fixed and the view holds only strings and ints:
	// an execution error is a bug in this package, caught by the tests.
	if err := textTmpl.Execute(&txt, v); err != nil {
		panic(fmt.Sprintf("digest text template: %v", err))
	}
	if err := htmlTmpl.Execute(&html, v); err != nil {
		panic(fmt.Sprintf("digest html template: %v", err))
	}
	return Message{Subject: v.Subject, Text: txt.String(), HTML: html.String()}
}

// Subject is the email's subject: the week's counts and the ISO week, so
// the inbox alone says whether to open it.
func (d Digest) Subject() string {
	if d.Empty() {
		return fmt.Sprintf("shadowmap weekly: nothing new, %s (%s)", plural(len(d.OutsideIdP), "app", "apps")+" outside the IdP", d.ISO())
	}
	return fmt.Sprintf("shadowmap weekly: %s (%s)", d.counts(), d.ISO())
}

func (d Digest) counts() string {
	parts := []string{
		plural(len(d.NewApps), "new app", "new apps"),
		fmt.Sprintf("%d outside the IdP", len(d.OutsideIdP)),
		plural(len(d.RiskyGrants), "risky grant", "risky grants"),
	}
	if n := len(d.NewSpend) + len(d.RisingSpend); n > 0 {
		parts = append(parts, plural(n, "spend change", "spend changes"))
	}
	if n := len(d.Renewals); n > 0 {
		parts = append(parts, plural(n, "renewal", "renewals"))
	}
	if n := d.SilentCount + len(d.FailingSources); n > 0 {
		parts = append(parts, plural(n, "sensor issue", "sensor issues"))
	}
	return strings.Join(parts, ", ")
}

func (d Digest) view(base, company string) view {
	loc := d.Start.Location()
	v := view{
		Subject: d.Subject(), Company: company, Week: d.ISO(), Empty: d.Empty(), Outside: len(d.OutsideIdP),
		Period:    d.Start.Format("Mon 2 Jan 2006") + " to " + d.End.AddDate(0, 0, -1).Format("Mon 2 Jan 2006"),
		Counts:    d.counts(),
		HomeURL:   base + "/apps",
		Generated: d.Now.In(loc).Format("2006-01-02 15:04 MST"),
	}
	appURL := func(id string) string { return base + "/apps/" + url.PathEscape(id) }
	flagURL := func(f inventory.Flag) string { return base + "/apps?flag=" + url.QueryEscape(string(f)) }
	date := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format("2006-01-02")
	}
	// invoiceDate prints an invoice day as the date it is: invoice days are
	// dates, not instants, and converting them to loc could shift a day.
	invoiceDate := func(t time.Time) string { return t.Format("2006-01-02") }

	// addTotal adds a section to the summary and the detail; total counts
	// the lines Build did not keep too.
	addTotal := func(title, all string, columns []string, lines []line, total int) {
		if len(lines) == 0 {
			return
		}
		sum, det := head(lines, SummaryLines), head(lines, DetailLines)
		v.Summary = append(v.Summary, section{Title: title, URL: all, Lines: sum, More: total - len(sum)})
		v.Details = append(v.Details, section{Title: title, URL: all, Columns: columns, Lines: det, More: total - len(det)})
	}
	add := func(title, all string, columns []string, lines []line) {
		addTotal(title, all, columns, lines, len(lines))
	}

	var lines []line
	for _, a := range d.NewApps {
		lines = append(lines, line{Name: oneLine(a.Name), URL: appURL(a.ID),
			Info:  who(a.People, a.Devices) + ", found by " + sourceList(a.Sources),
			Cells: []string{strconv.Itoa(a.People), strconv.Itoa(a.Devices), date(a.FirstSeen), sourceList(a.Sources), yesNo(a.InsideIdP)}})
	}
	add(fmt.Sprintf("New apps this week (%d)", len(d.NewApps)), flagURL(inventory.FlagNewThisWeek),
		[]string{"App", "People", "Devices", "First seen", "How found", "Inside IdP"}, lines)

	if !v.Empty {
		lines = nil
		for _, a := range d.OutsideIdP {
			lines = append(lines, line{Name: oneLine(a.Name), URL: appURL(a.ID),
				Info:  who(a.People, a.Devices) + ", SSO " + tiered(a.SSO, a.SSOTier) + ", SCIM " + tiered(a.SCIM, a.SCIMTier),
				Cells: []string{strconv.Itoa(a.People), tiered(a.SSO, a.SSOTier), tiered(a.SCIM, a.SCIMTier), oneLine(a.NextStep)}})
		}
		add(fmt.Sprintf("Outside the IdP, by people (%d)", len(d.OutsideIdP)), flagURL(inventory.FlagOutsideIdP),
			[]string{"App", "People", "SSO", "SCIM", "Next step"}, lines)
	}

	lines = nil
	for _, g := range d.RiskyGrants {
		u := flagURL(inventory.FlagRiskyOAuth)
		if g.AppID != "" {
			u = appURL(g.AppID)
		}
		var scopes, reasons []string
		for _, s := range g.Scopes {
			scopes = append(scopes, shortScope(s.Scope))
			reasons = append(reasons, oneLine(s.Reason))
		}
		lines = append(lines, line{Name: oneLine(g.Name), URL: u,
			Info:  plural(len(g.People), "person", "people") + ", " + strings.Join(scopes, ", "),
			Cells: []string{strconv.Itoa(len(g.People)), strings.Join(scopes, ", "), strings.Join(reasons, " "), date(g.FirstGrant)}})
	}
	add(fmt.Sprintf("New risky OAuth grants (%d)", len(d.RiskyGrants)), flagURL(inventory.FlagRiskyOAuth),
		[]string{"App", "People", "High-risk scopes", "Why", "First granted"}, lines)

	lines = nil
	for _, s := range d.NewSpend {
		lines = append(lines, line{Name: oneLine(s.Name), URL: appURL(s.AppID),
			Info:  money(s.Currency, s.Cents) + ", first invoice " + invoiceDate(s.FirstInvoice),
			Cells: []string{money(s.Currency, s.Cents), invoiceDate(s.FirstInvoice)}})
	}
	add(fmt.Sprintf("New spend (%d)", len(d.NewSpend)), base+"/apps?sort=spend",
		[]string{"App", "This week", "First invoice"}, lines)

	lines = nil
	for _, s := range d.RisingSpend {
		change := fmt.Sprintf("%s to %s (+%d%%)", money(s.Currency, s.PrevCents), money(s.Currency, s.Cents), s.Percent)
		lines = append(lines, line{Name: oneLine(s.Name), URL: appURL(s.AppID),
			Info:  change + ", " + s.PrevMonth + " to " + s.Month,
			Cells: []string{s.PrevMonth + ": " + money(s.Currency, s.PrevCents), s.Month + ": " + money(s.Currency, s.Cents), fmt.Sprintf("+%d%%", s.Percent)}})
	}
	add(fmt.Sprintf("Rising spend, +%d%% or more (%d)", RisingPercent, len(d.RisingSpend)), base+"/apps?sort=spend",
		[]string{"App", "Month before", "Last month", "Change"}, lines)

	lines = nil
	for _, r := range d.Renewals {
		lines = append(lines, line{Name: oneLine(r.Name), URL: appURL(r.AppID),
			Info:  "around " + invoiceDate(r.Next) + ", " + string(r.Cadence) + ", last invoice " + money(r.Currency, r.Cents),
			Cells: []string{invoiceDate(r.Next), string(r.Cadence), invoiceDate(r.LastInvoice), money(r.Currency, r.Cents)}})
	}
	add(fmt.Sprintf("Renewals in the next %d days (%d)", int(RenewalWindow/(24*time.Hour)), len(d.Renewals)), base+"/apps?sort=spend",
		[]string{"App", "Expected", "Billing", "Last invoice", "Amount"}, lines)

	// Failing sources come first: there are few, and each is one fix
	// that brings a whole source of evidence back.
	lines = nil
	for _, s := range d.FailingSources {
		lines = append(lines, line{Name: oneLine(s.Source), URL: base + "/sources",
			Info:  "last worked " + date(s.LastSuccess) + ": " + clip(oneLine(s.Error), 160),
			Cells: []string{strconv.FormatInt(s.Failures, 10), date(s.LastSuccess), clip(oneLine(s.Error), 300)}})
	}
	add(fmt.Sprintf("Failing sources (%d)", len(d.FailingSources)), base+"/sources",
		[]string{"Source", "Failed runs in a row", "Last worked", "Error"}, lines)

	lines = nil
	for _, a := range d.SilentAgents {
		owner := a.Owner
		if owner == "" {
			owner = "no owner"
		}
		days := int(d.Now.Sub(a.LastSeen) / (24 * time.Hour))
		lines = append(lines, line{Name: oneLine(a.Hostname), URL: base + "/devices/" + url.PathEscape(a.ID),
			Info:  oneLine(owner) + ", last seen " + date(a.LastSeen) + " (" + plural(days, "day", "days") + " ago)",
			Cells: []string{oneLine(owner), date(a.LastSeen), strconv.Itoa(days)}})
	}
	// Build keeps only the longest-silent agents; the rest are counted
	// into "and N more", linking to the devices page.
	addTotal(fmt.Sprintf("Agents silent over %d days (%d)", int(SilentAfter/(24*time.Hour)), d.SilentCount), base+"/devices",
		[]string{"Agent", "Owner", "Last seen", "Days silent"}, lines, max(d.SilentCount, len(lines)))
	return v
}

func head(l []line, n int) []line {
	if len(l) > n {
		return l[:n]
	}
	return l
}

// oneLine keeps a name from outside on one line: a newline in an app or
// host name would otherwise forge lines in the text email. Other control
// characters go too.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func who(people, devices int) string {
	if people == 0 && devices == 0 {
		// An app known only from an invoice or an IdP listing.
		return "nobody seen using it yet"
	}
	s := plural(people, "person", "people")
	if devices > 0 {
		s += " on " + plural(devices, "device", "devices")
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// tiered is "yes (Enterprise)" or "no": the catalog's answer with the plan
// tier that has it.
func tiered(answer, tier string) string {
	if answer == "" {
		answer = "unknown"
	}
	if tier != "" && answer != "no" && answer != "unknown" {
		return answer + " (" + oneLine(tier) + ")"
	}
	return answer
}

// sourceNames are how IT reads each source.
var sourceNames = map[collector.Source]string{
	collector.SourceDNS: "DNS", collector.SourceSNI: "TLS", collector.SourceOAuthGrant: "OAuth grant",
	collector.SourceSSOLogin: "SSO login", collector.SourceIdPApp: "IdP app", collector.SourceInvoice: "invoice",
	collector.SourceSignupEmail: "sign-up email", collector.SourceDNSTXT: "DNS TXT", collector.SourceManual: "added by IT",
}

func sourceList(src []collector.Source) string {
	if len(src) == 0 {
		return "no source"
	}
	names := make([]string, len(src))
	for i, s := range src {
		names[i] = sourceNames[s]
		if names[i] == "" {
			names[i] = string(s)
		}
	}
	return strings.Join(names, ", ")
}

// shortScope drops the Google scope URL prefix, which says nothing to a
// reader and would not fit a line.
func shortScope(s string) string {
	return strings.TrimPrefix(s, "https://www.googleapis.com/auth/")
}

// money formats cents as "USD 1,200.00".
func money(currency string, cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s %s%s.%02d", oneLine(currency), sign, b.String(), cents%100)
}
