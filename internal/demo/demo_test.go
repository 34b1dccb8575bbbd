package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/sources/mailbox/classify"
	"github.com/shadowmap/shadowmap/signatures"
)

var testNow = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

func testCompany(t *testing.T, people int) *company {
	t.Helper()
	c, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	co, err := newCompany(c, 7, people, people*2/5)
	if err != nil {
		t.Fatal(err)
	}
	return co
}

// TestCompanyIsDeterministic: the same seed makes the same company, and
// every person uses 15 to 40 apps.
func TestCompanyIsDeterministic(t *testing.T) {
	a, b := testCompany(t, 300), testCompany(t, 300)
	laptops := 0
	for i, p := range a.people {
		q := b.people[i]
		if p.Email != q.Email || len(p.Apps) != len(q.Apps) || (p.Laptop == nil) != (q.Laptop == nil) {
			t.Fatalf("person %d differs: %+v vs %+v", i, p, q)
		}
		if n := len(p.Apps); n < 15 || n > 40 {
			t.Errorf("%s uses %d apps", p.Email, n)
		}
		if p.Laptop != nil {
			laptops++
		}
	}
	if laptops != 120 {
		t.Errorf("%d laptops, want 120", laptops)
	}
}

// TestMailboxClassifies checks every generated message against the real
// classifier: bills are spend for the right app and amount, welcome mails
// are sign-ups, and the newsletter and hotel bill are not SaaS spend.
func TestMailboxClassifies(t *testing.T) {
	co := testCompany(t, 300)
	mails := co.mailbox(testNow)
	if len(mails) < 50 || len(mails) > 90 {
		t.Errorf("%d messages, want about 60", len(mails))
	}
	kinds := map[classify.Kind]int{}
	currencies := map[string]bool{}
	for _, m := range mails {
		r := classify.Classify(co.catalog, bytes.NewReader(m.raw), classify.Options{Now: func() time.Time { return testNow }})
		kinds[r.Kind]++
		switch {
		case strings.HasPrefix(r.Subject, "Welcome to"):
			if r.Kind != classify.KindSignup || r.AppID == "" {
				t.Errorf("%q: %s for %q, want a sign-up", r.Subject, r.Kind, r.AppID)
			}
		case strings.Contains(r.Subject, "invoice") || strings.Contains(r.Subject, "receipt"):
			if (r.Kind != classify.KindInvoice && r.Kind != classify.KindReceipt) || r.AppID == "" || r.AmountCents <= 0 || r.Currency == "" {
				t.Errorf("%q: %+v, want a bill with an amount", r.Subject, r)
			}
			if !strings.Contains(strings.ToLower(r.Subject), strings.ToLower(co.catalog.App(r.AppID).Name)) {
				t.Errorf("%q attributed to %s", r.Subject, r.AppID)
			}
			currencies[r.Currency] = true
		default:
			if r.Kind == classify.KindInvoice || r.Kind == classify.KindReceipt || r.Kind == classify.KindSignup {
				t.Errorf("%q: %s for %q, want no spend and no sign-up", r.Subject, r.Kind, r.AppID)
			}
		}
		if m.date.After(testNow) || m.date.Before(testNow.AddDate(0, -7, 0)) {
			t.Errorf("%q dated %s", r.Subject, m.date)
		}
	}
	if len(currencies) < 4 {
		t.Errorf("currencies %v, want several", currencies)
	}
	t.Logf("kinds %v", kinds)
}

// TestCapturesReplay checks a laptop's capture through the agent's
// pipeline: its apps are found by DNS and SNI, and the noise and unknown
// names are dropped.
func TestCapturesReplay(t *testing.T) {
	co := testCompany(t, 10)
	var p *person
	for _, q := range co.people {
		if q.Laptop != nil {
			p = q
			break
		}
	}
	pcap, err := laptopCapture(p, 0, 7, testNow, &clientHellos{})
	if err != nil {
		t.Fatal(err)
	}
	s, cs, ms, err := replayLaptop(pcap, co.catalog, p.User)
	if err != nil {
		t.Fatal(err)
	}
	if ms.Noise == 0 || ms.Unmatched == 0 || cs.SNINames == 0 {
		t.Errorf("capture stats %+v, match stats %+v: want noise, unknown names and server names", cs, ms)
	}
	apps, days := map[string]bool{}, map[string]bool{}
	for _, x := range s {
		apps[x.App] = true
		days[x.Day] = true
		if x.User != p.User || x.LastSeen.After(testNow) {
			t.Errorf("sighting %+v", x)
		}
	}
	if len(apps) < len(p.Apps)/2 || len(days) < 3 {
		t.Errorf("%d apps over %d days from a person using %d apps", len(apps), len(days), len(p.Apps))
	}
}

// TestDataDirRefusesOtherDirectories: the demo wipes only its own data.
func TestDataDirRefusesOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shadowmap.db"), []byte("real data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := prepareDataDir(dir); err == nil {
		t.Fatal("a directory that is not the demo's was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "shadowmap.db")); err != nil {
		t.Fatal("the directory was touched:", err)
	}
	demo := filepath.Join(t.TempDir(), "demo")
	for range 2 {
		if err := prepareDataDir(demo); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(demo, "old.db"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(demo); len(entries) != 2 {
		t.Errorf("demo dir holds %d entries after a wipe, want the marker and one file", len(entries))
	}
}

// TestDemo runs the whole feed for a 30-person company and reads the
// inventory through the JSON API: apps from every source, spend, people,
// devices, and apps inside the IdPs.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := Start(ctx, Options{
		DataDir: filepath.Join(t.TempDir(), "demo"), Listen: "127.0.0.1:0", People: 30, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	get := func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequest("GET", d.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+d.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var page struct {
		Apps []struct {
			ID        string           `json:"id"`
			People    int              `json:"people"`
			Devices   int              `json:"devices"`
			Evidence  map[string]int64 `json:"evidence"`
			InsideIdP bool             `json:"inside_idp"`
			IdP       string           `json:"idp"`
			Status    string           `json:"status"`
			Spend     []struct {
				Month string `json:"month"`
			} `json:"spend"`
			Flags []struct {
				Flag string `json:"flag"`
			} `json:"flags"`
		} `json:"apps"`
		Total int `json:"total"`
	}
	get("/api/v1/apps?limit=1000", &page)
	sources := map[string]int{}
	idps := map[string]int{}
	flags := map[string]int{}
	statuses := map[string]int{}
	spend := 0
	inside := map[string]bool{}
	for _, a := range page.Apps {
		inside[a.ID] = a.InsideIdP
		for s, n := range a.Evidence {
			if n > 0 {
				sources[s]++
			}
		}
		if a.InsideIdP {
			idps[a.IdP]++
		}
		if len(a.Spend) > 0 {
			spend++
		}
		for _, f := range a.Flags {
			flags[f.Flag]++
		}
		statuses[a.Status]++
	}
	for _, s := range []string{"dns", "sni", "oauth_grant", "sso_login", "invoice", "signup_email"} {
		if sources[s] == 0 {
			t.Errorf("no app has %s evidence (apps by source: %v)", s, sources)
		}
	}
	if idps["google_workspace"] == 0 {
		t.Errorf("apps inside IdPs: %v, want Google Workspace's SAML apps", idps)
	}
	// The Entra sign-in export names no app list: its apps are inside the
	// IdP by their SSO logins.
	if !inside["salesforce"] || !inside["docusign"] {
		t.Errorf("Entra apps salesforce and docusign should be inside the IdP: %v", inside)
	}
	if spend < 5 {
		t.Errorf("%d apps with spend", spend)
	}
	if flags["outside_idp"] == 0 || flags["risky_oauth"] == 0 {
		t.Errorf("flags %v, want outside_idp and risky_oauth", flags)
	}
	if statuses["approved"] == 0 || statuses["not_permitted"] == 0 || statuses["tolerated"] == 0 {
		t.Errorf("statuses %v", statuses)
	}
	if page.Total < 40 {
		t.Errorf("%d apps in the inventory", page.Total)
	}

	var people struct {
		People []struct {
			Email string `json:"email"`
		} `json:"people"`
	}
	var devices struct {
		Devices []struct {
			Hostname   string `json:"hostname"`
			OwnerEmail string `json:"owner_email"`
		} `json:"devices"`
	}
	get("/api/v1/people", &people)
	get("/api/v1/devices", &devices)
	t.Logf("apps %d, by source %v, inside %v, flags %v, people %d, devices %d, stats %+v",
		page.Total, sources, idps, flags, len(people.People), len(devices.Devices), d.Stats)
	if len(people.People) < 25 || len(devices.Devices) != 12 {
		t.Errorf("%d people and %d devices, want about 30 and 12", len(people.People), len(devices.Devices))
	}
	for _, p := range people.People {
		if !strings.HasSuffix(p.Email, "@"+Domain) {
			t.Errorf("person %q is not at %s", p.Email, Domain)
		}
	}
	if acct, err := d.accounts.Account(ctx, AdminEmail); err != nil || len(acct.PasswordHash) == 0 {
		t.Errorf("admin %s: %+v, %v", AdminEmail, acct, err)
	}
	if len(d.AdminPassword) < 16 {
		t.Errorf("admin password %q is too short", d.AdminPassword)
	}
	signIn(t, d)
	if d.Stats.Laptops != 12 || d.Stats.Sightings == 0 || d.Stats.MailEvidence == 0 {
		t.Errorf("stats %+v", d.Stats)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in to the web view with the credentials the demo prints.
func signIn(t *testing.T, d *Demo) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(d.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("GET /signin: %s, no csrf field", resp.Status)
	}
	resp, err = hc.PostForm(d.URL+"/signin", url.Values{
		"csrf": {string(m[1])}, "next": {"/"}, "email": {d.AdminEmail}, "password": {d.AdminPassword},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("sign in as %s: %s to %q", d.AdminEmail, resp.Status, resp.Header.Get("Location"))
	}
	resp, err = hc.Get(d.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / signed in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}
