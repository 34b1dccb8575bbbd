package demo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/signatures"
)

// Domain is the simulated company's email domain.
const Domain = "acme.example"

// tenantLabel is the company's name in tenant hostnames (acme.slack.com).
const tenantLabel = "acme"

// person is one employee.
type person struct {
	First, Last string
	User        string // OS account and email local part: ann.lee
	Email       string
	Dept        string
	// Laptop is set for the people who have the agent installed.
	Laptop *laptop
	// Apps are the catalog apps this person uses, most used first.
	Apps []*usedApp
}

type laptop struct {
	Hostname string
	OS       string
}

// usedApp is an app as one person uses it: how often (the chance of a
// lookup on a working day) and the host names they reach it by.
type usedApp struct {
	App   *signatures.App
	Daily float64
	Hosts []string
}

// popularApp weighs how likely an employee of a 300-person company is to
// use an app; the list is what such a company's inventory really holds
// (chat, docs, design, dev tools, AI assistants, sales and HR tools).
type popularApp struct {
	id     string
	weight float64 // share of employees using it
	depts  []string
}

var popularApps = []popularApp{
	{"slack", 0.95, nil}, {"zoom", 0.85, nil}, {"notion", 0.7, nil}, {"chatgpt", 0.6, nil},
	{"figma", 0.3, []string{"design", "product", "engineering"}}, {"miro", 0.4, nil},
	{"atlassian", 0.5, []string{"engineering", "product", "support"}}, {"github", 0.9, []string{"engineering"}},
	{"linear", 0.6, []string{"engineering", "product"}}, {"dropbox", 0.2, nil}, {"canva", 0.35, []string{"marketing", "sales", "people"}},
	{"claude", 0.35, nil}, {"loom", 0.4, nil}, {"calendly", 0.4, []string{"sales", "people", "support"}},
	{"asana", 0.25, []string{"marketing", "operations"}}, {"trello", 0.1, nil}, {"hubspot", 0.8, []string{"marketing", "sales"}},
	{"salesforce", 0.9, []string{"sales", "finance"}}, {"zapier", 0.15, []string{"marketing", "operations"}},
	{"airtable", 0.2, []string{"operations", "marketing"}}, {"1password", 0.6, nil}, {"docusign", 0.5, []string{"sales", "finance", "people"}},
	{"monday", 0.05, nil}, {"clickup", 0.05, nil}, {"grammarly", 0.3, nil}, {"cursor", 0.5, []string{"engineering"}},
	{"vercel", 0.4, []string{"engineering"}}, {"webflow", 0.4, []string{"marketing"}}, {"intercom", 0.7, []string{"support", "sales"}},
	{"zendesk", 0.3, []string{"support"}}, {"box", 0.05, nil}, {"typeform", 0.3, []string{"marketing", "people"}},
	{"surveymonkey", 0.05, nil}, {"mailchimp", 0.4, []string{"marketing"}}, {"pipedrive", 0.1, []string{"sales"}},
	{"datadog", 0.6, []string{"engineering"}}, {"sentry", 0.6, []string{"engineering"}}, {"postman", 0.5, []string{"engineering"}},
	{"perplexity", 0.2, nil}, {"deepl", 0.2, nil}, {"elevenlabs", 0.05, []string{"marketing"}}, {"midjourney", 0.05, []string{"design", "marketing"}},
	{"otter-ai", 0.15, nil}, {"gong", 0.7, []string{"sales"}}, {"smartsheet", 0.05, nil}, {"toggl-track", 0.05, nil},
	{"personio", 0.9, []string{"people"}}, {"deel", 0.5, []string{"people", "finance"}},
}

var departments = []string{"engineering", "engineering", "engineering", "sales", "sales", "marketing", "support", "product", "design", "finance", "people", "operations"}

var firstNames = []string{"ann", "ben", "carla", "dan", "erin", "farid", "grace", "hugo", "ines", "jonas", "kim", "liam", "maya", "nora",
	"omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "vera", "wei", "xavier", "yusuf", "zoe", "aisha", "bruno", "chen", "dina",
	"elias", "fatima", "gabriel", "hana", "ivan", "julia", "kenji", "lena", "marco", "nadia"}

var lastNames = []string{"lee", "martin", "garcia", "smith", "nguyen", "kowalski", "okafor", "rossi", "silva", "tanaka", "schmidt",
	"dubois", "haddad", "johansson", "patel", "murphy", "costa", "novak", "fischer", "kim", "andersen", "moreau", "yilmaz", "brown"}

// longTailApps is how many catalog apps outside the popular list the
// company's people use between them.
const longTailApps = 90

// company builds the simulated company from a seed: the same seed gives
// the same people, laptops and apps.
type company struct {
	rng     *rand.Rand
	catalog *signatures.Catalog
	people  []*person
	// longTail are catalog apps outside the popular list, which a few
	// people each pick up: the shadow IT nobody planned for.
	longTail []*signatures.App
}

func newCompany(c *signatures.Catalog, seed uint64, people, laptops int) (*company, error) {
	co := &company{rng: rand.New(rand.NewPCG(seed, 0x5ad0)), catalog: c}
	for _, p := range popularApps {
		if c.App(p.id) == nil {
			return nil, fmt.Errorf("demo: catalog has no app %q", p.id)
		}
	}
	for _, a := range c.Apps {
		if !slices.ContainsFunc(popularApps, func(p popularApp) bool { return p.id == a.ID }) && len(useHosts(a)) > 0 {
			co.longTail = append(co.longTail, a)
		}
	}
	// A company's long tail is a few dozen apps, not the whole catalog.
	co.rng.Shuffle(len(co.longTail), func(i, j int) { co.longTail[i], co.longTail[j] = co.longTail[j], co.longTail[i] })
	co.longTail = co.longTail[:min(len(co.longTail), longTailApps)]
	seen := map[string]int{}
	for i := range people {
		first := firstNames[co.rng.IntN(len(firstNames))]
		last := lastNames[co.rng.IntN(len(lastNames))]
		user := first + "." + last
		if n := seen[user]; n > 0 {
			user = fmt.Sprintf("%s%d", user, n+1)
		}
		seen[first+"."+last]++
		p := &person{First: first, Last: last, User: user, Email: user + "@" + Domain, Dept: departments[co.rng.IntN(len(departments))]}
		// Spread the laptops over the company rather than giving them
		// to the first hires only.
		if laptops > 0 && i*laptops/people != (i+1)*laptops/people {
			oses := []string{"darwin", "darwin", "darwin", "windows", "linux"}
			p.Laptop = &laptop{Hostname: fmt.Sprintf("acme-mbp-%03d", i), OS: oses[co.rng.IntN(len(oses))]}
			if p.Laptop.OS != "darwin" {
				p.Laptop.Hostname = fmt.Sprintf("acme-pc-%03d", i)
			}
		}
		co.pickApps(p)
		co.people = append(co.people, p)
	}
	return co, nil
}

// pickApps gives a person 15 to 40 apps: popular ones by weight (more
// likely in the departments that use them), then a few from the long tail.
func (co *company) pickApps(p *person) {
	want := 15 + co.rng.IntN(26)
	order := co.rng.Perm(len(popularApps))
	for _, i := range order {
		pa := popularApps[i]
		if co.rng.Float64() >= deptWeight(pa, p.Dept) {
			continue
		}
		p.Apps = append(p.Apps, co.use(co.catalog.App(pa.id), 0.3+0.6*pa.weight))
		if len(p.Apps) >= want {
			return
		}
	}
	// Then a few long-tail apps; if the person still has fewer than they
	// want, more of the popular ones.
	tail := min(want-len(p.Apps), 2+co.rng.IntN(7))
	for range 100 * tail {
		if tail == 0 || len(co.longTail) == 0 {
			break
		}
		a := co.longTail[co.pickTail()]
		if slices.ContainsFunc(p.Apps, func(u *usedApp) bool { return u.App == a }) {
			continue
		}
		p.Apps = append(p.Apps, co.use(a, 0.1+0.3*co.rng.Float64()))
		tail--
	}
	for range 10000 {
		if len(p.Apps) >= want {
			break
		}
		pa := popularApps[co.rng.IntN(len(popularApps))]
		a := co.catalog.App(pa.id)
		if co.rng.Float64() >= deptWeight(pa, p.Dept) || slices.ContainsFunc(p.Apps, func(u *usedApp) bool { return u.App == a }) {
			continue
		}
		p.Apps = append(p.Apps, co.use(a, 0.2+0.4*pa.weight))
	}
}

// deptWeight is the chance a person of dept uses an app: a tenth of it
// outside the departments the app is for.
func deptWeight(pa popularApp, dept string) float64 {
	if len(pa.depts) > 0 && !slices.Contains(pa.depts, dept) {
		return pa.weight / 10
	}
	return pa.weight
}

// pickTail picks a long-tail app with a Zipf-like skew (weight 1/(i+10)):
// a few tail apps spread through teams, most stay with one or two people.
func (co *company) pickTail() int {
	total := 0.0
	for i := range co.longTail {
		total += 1 / float64(i+10)
	}
	r := co.rng.Float64() * total
	for i := range co.longTail {
		r -= 1 / float64(i+10)
		if r <= 0 {
			return i
		}
	}
	return len(co.longTail) - 1
}

func (co *company) use(a *signatures.App, daily float64) *usedApp {
	return &usedApp{App: a, Daily: min(daily, 0.95), Hosts: useHosts(a)}
}

// useHosts are the names an app is reached by: its tenant hostname when it
// has tenants (acme.slack.com), then its use domains (app, login, api).
func useHosts(a *signatures.App) []string {
	var out []string
	for _, t := range a.Tenants {
		if t.Role.CountsAsUse() && !strings.Contains(t.Suffix, "*") {
			out = append(out, tenantLabel+"."+t.Suffix)
			break
		}
	}
	for _, d := range a.Domains {
		if d.Role.CountsAsUse() {
			out = append(out, d.Name)
		}
	}
	return out
}

// usersOf lists the people who use an app.
func (co *company) usersOf(appID string) []*person {
	var out []*person
	for _, p := range co.people {
		if slices.ContainsFunc(p.Apps, func(u *usedApp) bool { return u.App.ID == appID }) {
			out = append(out, p)
		}
	}
	return out
}
