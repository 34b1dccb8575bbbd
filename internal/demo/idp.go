package demo

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Scopes the demo's OAuth grants ask for. Drive and Gmail scopes are the
// risky ones the catalog's scope table flags.
const (
	scopeEmail    = "https://www.googleapis.com/auth/userinfo.email"
	scopeProfile  = "https://www.googleapis.com/auth/userinfo.profile"
	scopeOpenID   = "openid"
	scopeCalendar = "https://www.googleapis.com/auth/calendar"
	scopeCalRead  = "https://www.googleapis.com/auth/calendar.readonly"
	scopeDrive    = "https://www.googleapis.com/auth/drive"
	scopeDriveRO  = "https://www.googleapis.com/auth/drive.readonly"
	scopeGmail    = "https://mail.google.com/"
	scopeGmailRO  = "https://www.googleapis.com/auth/gmail.readonly"
	scopeContacts = "https://www.googleapis.com/auth/contacts.readonly"
)

// oauthApps are the apps people sign in to with "Sign in with Google" or
// connect to their Google account, with the scopes they ask for.
var oauthApps = []struct {
	id     string
	name   string // the name the app registers with Google
	scopes []string
}{
	{"zoom", "Zoom for Google Workspace", []string{scopeEmail, scopeProfile, scopeCalendar}},
	{"notion", "Notion", []string{scopeOpenID, scopeEmail, scopeProfile}},
	{"miro", "Miro", []string{scopeOpenID, scopeEmail, scopeDriveRO}},
	{"dropbox", "Dropbox", []string{scopeEmail, scopeContacts, scopeDrive}},
	{"chatgpt", "ChatGPT", []string{scopeOpenID, scopeEmail, scopeDriveRO}},
	{"claude", "Claude", []string{scopeOpenID, scopeEmail, scopeProfile}},
	{"otter-ai", "Otter.ai", []string{scopeEmail, scopeCalRead, scopeContacts}},
	{"hubspot", "HubSpot", []string{scopeEmail, scopeGmail, scopeCalendar}},
	{"pipedrive", "Pipedrive", []string{scopeEmail, scopeGmailRO, scopeContacts}},
	{"perplexity", "Perplexity", []string{scopeOpenID, scopeEmail}},
	{"gong", "Gong", []string{scopeEmail, scopeCalendar, scopeGmailRO}},
}

// inHouseClients are OAuth clients the catalog does not know: a script
// somebody wrote and a Marketplace add-on. They show as candidates.
var inHouseClients = []struct {
	clientID, name string
	scopes         []string
}{
	{"803311572940-acmemailmerge.apps.googleusercontent.com", "Mail Merge Pro for Gmail", []string{scopeGmail, scopeDriveRO}},
	{"803311572941-acmeexpense.apps.googleusercontent.com", "Acme Expense Helper", []string{scopeDrive}},
}

// googleSAMLApps are configured in Google Workspace as SAML apps: their
// logins show the app is inside the IdP.
var googleSAMLApps = []string{"slack", "figma", "atlassian", "github", "1password"}

// entraApps are the enterprise apps configured in Entra.
var entraApps = []string{"salesforce", "docusign", "zendesk", "personio", "datadog"}

type gActivities struct {
	Kind  string      `json:"kind"`
	Items []gActivity `json:"items"`
}

type gActivity struct {
	Kind  string `json:"kind"`
	ID    gID    `json:"id"`
	Actor struct {
		CallerType string `json:"callerType"`
		Email      string `json:"email"`
		ProfileID  string `json:"profileId"`
	} `json:"actor"`
	Events []gEvent `json:"events"`
}

type gID struct {
	Time            string `json:"time"`
	UniqueQualifier string `json:"uniqueQualifier"`
	ApplicationName string `json:"applicationName"`
	CustomerID      string `json:"customerId"`
}

type gEvent struct {
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Parameters []gParam `json:"parameters"`
}

type gParam struct {
	Name       string   `json:"name"`
	Value      string   `json:"value,omitempty"`
	MultiValue []string `json:"multiValue,omitempty"`
}

const googleCustomer = "C03acme01"

// googleFiles writes the Reports API activities.list answers the Google
// importer reads: token events (OAuth grants) and SAML logins, spread
// over the last 30 days. It returns the two files' paths.
func (co *company) googleFiles(dir string, now time.Time) ([]string, error) {
	rng := rand.New(rand.NewPCG(co.rng.Uint64(), 0x600613))
	seq := 0
	activity := activityMaker(now, rng, &seq)
	tokens := gActivities{Kind: "admin#reports#activities"}
	for _, p := range co.people {
		for _, oa := range oauthApps {
			if !slices.ContainsFunc(p.Apps, func(u *usedApp) bool { return u.App.ID == oa.id }) || rng.IntN(3) == 0 {
				continue
			}
			clientID := fmt.Sprintf("%d-%s.apps.googleusercontent.com", 400000000000+len(oa.id)*7919, oa.id)
			if a := co.catalog.App(oa.id); a != nil && a.OAuth != nil && len(a.OAuth.GoogleClientIDs) > 0 {
				clientID = a.OAuth.GoogleClientIDs[0]
			}
			tokens.Items = append(tokens.Items, activity(p, "token", gEvent{Type: "auth", Name: "authorize", Parameters: []gParam{
				{Name: "client_id", Value: clientID}, {Name: "app_name", Value: oa.name}, {Name: "scope", MultiValue: oa.scopes},
			}}))
		}
		for _, c := range inHouseClients {
			if rng.IntN(25) != 0 {
				continue
			}
			tokens.Items = append(tokens.Items, activity(p, "token", gEvent{Type: "auth", Name: "authorize", Parameters: []gParam{
				{Name: "client_id", Value: c.clientID}, {Name: "app_name", Value: c.name}, {Name: "scope", MultiValue: c.scopes},
			}}))
		}
	}
	saml := gActivities{Kind: "admin#reports#activities"}
	for _, id := range googleSAMLApps {
		a := co.catalog.App(id)
		for _, p := range co.usersOf(id) {
			for range 1 + rng.IntN(4) {
				saml.Items = append(saml.Items, activity(p, "saml", gEvent{Type: "login", Name: "login_success", Parameters: []gParam{
					{Name: "application_name", Value: a.Name}, {Name: "initiated_by", Value: []string{"idp", "sp"}[rng.IntN(2)]},
				}}))
			}
		}
	}
	var paths []string
	for name, v := range map[string]gActivities{"google-token-activities.json": tokens, "google-saml-activities.json": saml} {
		path, err := writeJSON(dir, name, v)
		if err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths, nil
}

// activityMaker returns a maker of activities at random times in the last 30
// days, with unique qualifiers.
func activityMaker(now time.Time, rng *rand.Rand, seq *int) func(p *person, app string, e gEvent) gActivity {
	return func(p *person, app string, e gEvent) gActivity {
		*seq++
		at := now.Add(-time.Duration(1+rng.Int64N(int64(historyDays*24*time.Hour)/int64(time.Second))) * time.Second)
		var a gActivity
		a.Kind = "admin#reports#activity"
		a.ID = gID{Time: at.UTC().Format("2006-01-02T15:04:05.000Z"), UniqueQualifier: fmt.Sprintf("-67094425874377%05d", *seq),
			ApplicationName: app, CustomerID: googleCustomer}
		a.Actor.CallerType, a.Actor.Email = "USER", p.Email
		a.Actor.ProfileID = fmt.Sprintf("1048392018402938%05d", *seq%100000)
		a.Events = []gEvent{e}
		return a
	}
}

func writeJSON(dir, name string, v any) (string, error) {
	path := filepath.Join(dir, name)
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, b, 0o600)
}

// entraFile writes the Entra portal's sign-in CSV export (Monitoring >
// Sign-in logs > Download) for the enterprise apps configured in Entra.
func (co *company) entraFile(dir string, now time.Time) (string, error) {
	rng := rand.New(rand.NewPCG(co.rng.Uint64(), 0xe1707a))
	path := filepath.Join(dir, "entra-signins.csv")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"Date (UTC)", "Request ID", "User", "Username", "User type", "Authentication Protocol",
		"Application", "Application ID", "Status", "Sign-in error code", "Client app"})
	for ai, id := range entraApps {
		a := co.catalog.App(id)
		appID := fmt.Sprintf("%08x-7a6e-4f5d-9c8b-%012x", 0x3b8f1c2d+ai, ai+1)
		if a.OAuth != nil && len(a.OAuth.MicrosoftAppIDs) > 0 {
			appID = a.OAuth.MicrosoftAppIDs[0]
		}
		for _, p := range co.usersOf(id) {
			for range 1 + rng.IntN(5) {
				at := now.Add(-time.Duration(1+rng.Int64N(int64(historyDays*24*3600))) * time.Second).UTC()
				status, code := "Success", "0"
				if rng.IntN(20) == 0 {
					status, code = "Failure", "50126" // a mistyped password: not use
				}
				w.Write([]string{at.Format(time.RFC3339), fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1)),
					titleName(p), p.Email, "Member", "saml20", a.Name, appID, status, code, "Browser"})
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

func titleName(p *person) string {
	return upperFirst(p.First) + " " + upperFirst(p.Last)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
