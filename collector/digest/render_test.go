package digest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/internal/golden"
)

const testBase = "https://shadowmap.acme.example/"

func TestMessageGolden(t *testing.T) {
	full := fixtureDigest(t)

	deps := fixtureDeps(t)
	week, err := ParseISOWeek("2026-W10", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := Build(context.Background(), deps, week, week.End.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The empty week still needs its sensor readers to be quiet: drop the
	// fixture's silent agents and failing source, which are about "now".
	empty.SilentAgents, empty.SilentCount, empty.FailingSources = nil, 0, nil
	if !empty.Empty() {
		t.Fatalf("week 10 is not empty: %+v", empty)
	}

	tests := []struct {
		name    string
		d       Digest
		subject string
	}{
		{"week", full, "shadowmap weekly: 3 new apps, 3 outside the IdP, 2 risky grants, 2 spend changes, 2 renewals, 13 sensor issues (2026-W48)"},
		{"empty", empty, "shadowmap weekly: nothing new, 3 apps outside the IdP (2026-W10)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.d.Message(testBase, "Acme & Co")
			if m.Subject != tc.subject {
				t.Errorf("subject = %q, want %q", m.Subject, tc.subject)
			}
			golden.Check(t, "testdata/"+tc.name+".txt", m.Text)
			golden.Check(t, "testdata/"+tc.name+".html", m.HTML)
			checkEmailHTML(t, m.HTML)
		})
	}
}

// checkEmailHTML holds the rules every digest HTML keeps: no scripts, no
// external resources, no <style> blocks (mail clients drop them), and
// every link into the web view.
func checkEmailHTML(t *testing.T, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	for _, bad := range []string{"<script", "<style", "<img", "<link", "<iframe", "<object"} {
		if strings.Contains(lower, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(m[1], strings.TrimRight(testBase, "/")+"/") {
			t.Errorf("link %q does not point into the web view", m[1])
		}
	}
}

func TestMessageSectionsAndLinks(t *testing.T) {
	m := fixtureDigest(t).Message(testBase, "Acme")
	for _, want := range []string{
		"New apps this week (3)", "Outside the IdP, by people (3)", "New risky OAuth grants (2)",
		"New spend (1)", "Rising spend, +20% or more (1)", "Renewals in the next 30 days (2)",
		"Agents silent over 7 days (12)", "Failing sources (1)", "- and 7 more: " + testBase + "devices",
		testBase + "apps/notion", testBase + "apps?flag=outside_idp", testBase + "apps?flag=risky_oauth",
		testBase + "devices/silent-11", testBase + "sources",
		"USD 600.00 to USD 1,200.00 (+100%)", "EUR 119.99", "around 2026-12-05, monthly", "around 2026-12-10, annual",
		"gmail.readonly", "* and 2 more: " + testBase + "devices",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	// The summary is one screen: each section's top lines, before the
	// detail starts.
	summary, _, ok := strings.Cut(m.Text, "\nDetail\n")
	if !ok {
		t.Fatal("no Detail part in the text")
	}
	if n := strings.Count(summary, "\n"); n > 60 {
		t.Errorf("summary is %d lines, want one screen", n)
	}
}

func TestMessageAndMore(t *testing.T) {
	d := Digest{Week: WeekOf(fixtureNow, time.UTC), Now: fixtureNow}
	for i := range 30 {
		d.NewApps = append(d.NewApps, AppLine{ID: fmt.Sprintf("app-%02d", i), Name: fmt.Sprintf("App %02d", i), People: 30 - i})
	}
	m := d.Message(testBase, "")
	tests := []struct{ part, want string }{
		{"text summary", "- and 25 more: " + testBase + "apps?flag=new_this_week"},
		{"text detail", "* and 5 more: " + testBase + "apps?flag=new_this_week"},
		{"html summary", ">and 25 more</a>"},
		{"html detail", ">and 5 more</a>"},
	}
	for _, tc := range tests {
		body := m.Text
		if strings.HasPrefix(tc.part, "html") {
			body = m.HTML
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("%s lacks %q", tc.part, tc.want)
		}
	}
	if strings.Contains(m.Text, "App 29") {
		t.Error("the 30th app is listed; the detail stops at 25")
	}
}

func TestMessageEscapesHostileNames(t *testing.T) {
	hostile := []string{
		`<script>alert("x")</script>`,
		`"><img src=x onerror=alert(1)>`,
		"Evil\n- Fake line: https://evil.example/\r\n",
		`javascript:alert(1)`,
		"</td></tr></table><a href=\"https://evil.example\">click</a>",
	}
	d := Digest{Week: WeekOf(fixtureNow, time.UTC), Now: fixtureNow}
	for i, name := range hostile {
		id := fmt.Sprintf("x/../%d?y=<z>#", i)
		d.NewApps = append(d.NewApps, AppLine{ID: id, Name: name, People: 1, Sources: []collector.Source{collector.SourceDNS},
			NextStep: name, SSO: "yes", SSOTier: name})
		d.OutsideIdP = append(d.OutsideIdP, AppLine{ID: id, Name: name, People: 1, NextStep: name, SSO: "yes", SSOTier: name})
		d.RiskyGrants = append(d.RiskyGrants, GrantLine{Name: name, ClientID: name, People: []string{"a@x"},
			Scopes: []inventory.RiskyScope{{Scope: "mail", Reason: name}}})
		d.SilentAgents = append(d.SilentAgents, DeviceLine{ID: name, Hostname: name, Owner: name, LastSeen: fixtureNow.AddDate(0, 0, -9)})
		d.FailingSources = append(d.FailingSources, SourceLine{Source: name, Error: name})
	}
	d.SilentCount = len(d.SilentAgents)
	m := d.Message(testBase, `<b>Acme</b>`)
	checkEmailHTML(t, m.HTML)
	for _, bad := range []string{"<b>Acme", "</table><a href", `"><img`, "<script>"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML holds %q unescaped", bad)
		}
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("the script name is not shown escaped")
	}
	// An app id is one path segment: "/", "?" and "#" are escaped so an id
	// cannot walk out of /apps/ or add a query.
	if !strings.Contains(m.Text, testBase+"apps/x%2F..%2F0%3Fy=%3Cz%3E%23") {
		t.Errorf("app id not path-escaped in:\n%s", m.Text)
	}
	// A newline in a name must not start a line of its own in the text.
	for l := range strings.SplitSeq(m.Text, "\n") {
		if strings.HasPrefix(l, "- Fake line") {
			t.Error("a name forged a line in the text email")
		}
	}
	if strings.ContainsAny(m.Subject, "<>\r\n") {
		t.Errorf("subject carries name text: %q", m.Subject)
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		ccy   string
		cents int64
		want  string
	}{
		{"USD", 0, "USD 0.00"},
		{"USD", 5, "USD 0.05"},
		{"EUR", 11999, "EUR 119.99"},
		{"USD", 123456789, "USD 1,234,567.89"},
		{"USD", 100000, "USD 1,000.00"},
		{"USD", -150, "USD -1.50"},
	}
	for _, tc := range tests {
		if got := money(tc.ccy, tc.cents); got != tc.want {
			t.Errorf("money(%s, %d) = %q, want %q", tc.ccy, tc.cents, got, tc.want)
		}
	}
}
