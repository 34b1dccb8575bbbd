package signatures

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	ssoValues  = []string{"yes", "no", "partial", "unknown"}
	scimValues = []string{"yes", "no", "partial", "paused", "idp-only", "unknown"}
	jitValues  = []string{"yes", "no", "partial", "unknown"}
	protocols  = []string{"saml", "oidc", "oauth", "ws-fed"}
	idpNames   = []string{"okta", "entra", "google_workspace", "onelogin"}
	processors = []string{"stripe", "paddle", "chargebee", "recurly", "zuora", "fastspring", "apple", "google", "braintree", "adyen", "paypal", "lemonsqueezy"}
	riskLevels = []string{"low", "medium", "high"}
	scimOps    = []string{"create", "update", "deactivate", "delete", "groups", "push-groups", "import", "reactivate"}
)

// idPattern is the shape of an app id and so of its file name.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

// checkApp validates one app on its own and normalizes its domains in
// place. It reports false when the app cannot be used at all.
func (l *linter) checkApp(a *App, doc *yaml.Node, stem string) bool {
	f := a.file
	ok := true
	if !idPattern.MatchString(a.ID) {
		l.add(f, lineOf(child(doc, "id"), a.line), "id %q must be lowercase letters, digits and dashes", a.ID)
		ok = false
	} else if a.ID != stem {
		l.add(f, lineOf(child(doc, "id"), a.line), "id %q must match the file name %s.yaml", a.ID, stem)
	}
	if strings.TrimSpace(a.Name) == "" {
		l.add(f, a.line, "name is missing")
	}
	if strings.TrimSpace(a.Vendor) == "" {
		l.add(f, a.line, "vendor is missing")
	}
	if !contains(categories, a.Category) {
		l.add(f, lineOf(child(doc, "category"), a.line), "category %q is not one of %s", a.Category, strings.Join(categories, ", "))
	}
	if u, err := url.Parse(a.Website); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		l.add(f, lineOf(child(doc, "website"), a.line), "website %q must be an http(s) URL", a.Website)
	}

	uses := false
	seen := make(map[string]int)
	for i := range a.Domains {
		d := &a.Domains[i]
		n, err := normalizeDomain(d.Name)
		if err != nil {
			l.add(f, d.line, "domain: %v", err)
			ok = false
			continue
		}
		d.Name = n
		if !d.Role.valid() {
			l.add(f, d.line, "domain %s: role %q must be app, login, api, static or marketing", n, d.Role)
		}
		if first, dup := seen[n]; dup {
			l.add(f, d.line, "domain %s is listed twice in this file (first at line %d)", n, first)
		}
		seen[n] = d.line
		uses = uses || d.Role.CountsAsUse()
	}
	for i := range a.Tenants {
		t := &a.Tenants[i]
		n, err := normalizeDomain(t.Suffix)
		if err != nil {
			l.add(f, t.line, "tenant suffix: %v", err)
			ok = false
			continue
		}
		t.Suffix = n
		if !t.Role.valid() {
			l.add(f, t.line, "tenant %s: role %q must be app, login, api, static or marketing", n, t.Role)
		}
		if t.Example == "" {
			l.add(f, t.line, "tenant %s needs an example such as acme.%s", n, n)
		}
		for j, x := range t.Exclude {
			t.Exclude[j] = strings.ToLower(x)
		}
		for j, x := range t.TrimSuffixes {
			t.TrimSuffixes[j] = strings.ToLower(x)
		}
		uses = uses || t.Role.CountsAsUse()
	}
	if len(a.Domains)+len(a.Tenants) == 0 {
		l.add(f, a.line, "the app has no domains and no tenant patterns")
	} else if !uses {
		l.add(f, a.line, "no domain or tenant has role app, login or api: the app could never be seen in use")
	}
	if len(a.Sources) == 0 {
		l.add(f, a.line, "sources: is missing: say where the domains and mail facts came from (a url or a dataset)")
	}
	l.checkSources(f, lineOf(child(doc, "sources"), a.line), "sources", a.Sources)
	if a.Mail != nil {
		l.checkMail(f, a)
	}
	if a.Identity != nil {
		l.checkIdentity(f, a.Identity)
	}
	l.checkTXT(f, a)
	if a.Risk != nil && a.Risk.Level != "" && !contains(riskLevels, a.Risk.Level) {
		l.add(f, lineOf(child(child(doc, "risk"), "level"), a.line), "risk level %q must be low, medium or high", a.Risk.Level)
	}
	return ok
}

func (l *linter) checkMail(f string, a *App) {
	m := a.Mail
	for i, d := range m.SenderDomains {
		n, err := normalizeDomain(d)
		if err != nil {
			l.add(f, m.line, "mail sender domain: %v", err)
			continue
		}
		m.SenderDomains[i] = n
	}
	for i, s := range m.SenderAddresses {
		at := strings.LastIndexByte(s, '@')
		if at <= 0 {
			l.add(f, m.line, "mail sender address %q has no local part and domain", s)
			continue
		}
		n, err := normalizeDomain(s[at+1:])
		if err != nil {
			l.add(f, m.line, "mail sender address %q: %v", s, err)
			continue
		}
		m.SenderAddresses[i] = strings.ToLower(s[:at]) + "@" + n
	}
	for _, p := range m.Processors {
		if !contains(processors, p) {
			l.add(f, m.line, "mail processor %q is not one of %s", p, strings.Join(processors, ", "))
		}
	}
	for i := range m.Subjects {
		s := &m.Subjects[i]
		re, err := regexp.Compile("(?i)" + s.Pattern)
		if err != nil {
			l.add(f, s.line, "subject pattern %q: %v", s.Pattern, err)
		}
		s.re = re
		if !s.Kind.valid() {
			l.add(f, s.line, "subject pattern %q: kind %q must be invoice, receipt, signup, security or marketing", s.Pattern, s.Kind)
		}
	}
	if len(m.SenderDomains)+len(m.SenderAddresses)+len(m.LegalNames)+len(m.DisplayNames) == 0 {
		l.add(f, m.line, "mail: give at least one sender domain, sender address, legal name or display name")
	}
}

func (l *linter) checkIdentity(f string, id *Identity) {
	line := id.line
	if !contains(ssoValues, id.SSO.Supported) {
		l.add(f, line, "identity sso.supported %q must be one of %s (quote \"yes\" and \"no\")", id.SSO.Supported, strings.Join(ssoValues, ", "))
	}
	for _, p := range id.SSO.Protocols {
		if !contains(protocols, p) {
			l.add(f, line, "identity sso protocol %q must be one of %s", p, strings.Join(protocols, ", "))
		}
	}
	if !contains(scimValues, id.SCIM.Supported) {
		l.add(f, line, "identity scim.supported %q must be one of %s (quote \"yes\" and \"no\")", id.SCIM.Supported, strings.Join(scimValues, ", "))
	}
	for _, op := range id.SCIM.Operations {
		if !contains(scimOps, op) {
			l.add(f, line, "identity scim operation %q must be one of %s", op, strings.Join(scimOps, ", "))
		}
	}
	if !contains(jitValues, id.JIT) {
		l.add(f, line, "identity jit %q must be one of %s (quote \"yes\" and \"no\")", id.JIT, strings.Join(jitValues, ", "))
	}
	for k := range id.IdPs {
		if !contains(idpNames, k) {
			l.add(f, line, "identity idps key %q must be one of %s", k, strings.Join(idpNames, ", "))
		}
	}
	if len(id.Sources) == 0 {
		l.add(f, line, "identity facts need sources: (a url or a dataset)")
	}
	l.checkSources(f, line, "identity sources", id.Sources)
	if _, err := time.Parse(time.DateOnly, id.Checked); err != nil {
		l.add(f, line, "identity checked %q must be the date the facts were checked, YYYY-MM-DD", id.Checked)
	}
}

func (l *linter) checkSources(f string, line int, what string, srcs []Source) {
	for _, s := range srcs {
		switch {
		case s.URL == "" && s.Dataset == "":
			l.add(f, line, "%s: each source needs a url or a dataset", what)
		case s.URL != "":
			if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				l.add(f, line, "%s: %q is not an http(s) URL", what, s.URL)
			}
		}
		if s.Checked != "" {
			if _, err := time.Parse(time.DateOnly, s.Checked); err != nil {
				l.add(f, line, "%s: checked %q must be YYYY-MM-DD", what, s.Checked)
			}
		}
	}
}

// owner is who holds a domain: an app (by its domain or tenant pattern) or
// the noise list.
type owner struct {
	app     *App // nil for noise
	file    string
	line    int
	exact   bool
	explain string // the overlap or reason text
}

func (o owner) String() string {
	if o.app == nil {
		return fmt.Sprintf("the noise list (%s:%d)", o.file, o.line)
	}
	return fmt.Sprintf("app %s (%s:%d)", o.app.ID, o.file, o.line)
}

func sameOwner(a, b owner) bool { return a.app == b.app }

// checkOwnership enforces that each domain has one owner and that nesting
// across owners is explained.
func (l *linter) checkOwnership(c *Catalog) {
	owners := make(map[string][]owner)
	add := func(d string, o owner) {
		for _, prev := range owners[d] {
			if sameOwner(prev, o) {
				return // a domain and a tenant suffix of one app share a name on purpose
			}
			l.add(o.file, o.line, "%s is already claimed by %s", d, prev)
			return
		}
		owners[d] = append(owners[d], o)
	}
	type item struct {
		domain string
		o      owner
	}
	var items []item
	for _, a := range c.Apps {
		for _, d := range a.Domains {
			o := owner{app: a, file: a.file, line: d.line, exact: d.Exact, explain: d.Overlap}
			add(d.Name, o)
			items = append(items, item{d.Name, o})
		}
		for _, t := range a.Tenants {
			o := owner{app: a, file: a.file, line: t.line, explain: t.Overlap}
			add(t.Suffix, o)
			items = append(items, item{t.Suffix, o})
		}
	}
	for _, n := range c.Noise {
		o := owner{file: n.file, line: n.line, exact: n.Exact, explain: n.Reason}
		add(n.Domain, o)
		items = append(items, item{n.Domain, o})
	}
	for _, it := range items {
		for _, parent := range parentSuffixes(it.domain) {
			for _, po := range owners[parent] {
				if po.exact || sameOwner(po, it.o) {
					continue
				}
				if it.o.app == nil && po.app == nil {
					l.add(it.o.file, it.o.line, "noise %s is already covered by noise %s (line %d)", it.domain, parent, po.line)
					continue
				}
				if strings.TrimSpace(it.o.explain) == "" {
					field := "overlap:"
					if it.o.app == nil {
						field = "reason:"
					}
					l.add(it.o.file, it.o.line, "%s sits under %s, claimed by %s: add %s saying why", it.domain, parent, po, field)
				}
			}
		}
	}
}

// checkTenantExamples proves each tenant pattern with its own example.
func (l *linter) checkTenantExamples(c *Catalog) {
	for _, a := range c.Apps {
		for _, t := range a.Tenants {
			if t.Example == "" {
				continue
			}
			m := c.MatchDomain(t.Example)
			switch {
			case m.App != a:
				got := "nothing"
				if m.App != nil {
					got = "app " + m.App.ID
				} else if m.Noise != nil {
					got = "noise " + m.Noise.Domain
				}
				l.add(a.file, t.line, "tenant example %s matches %s, not this app", t.Example, got)
			case m.Tenant == "":
				l.add(a.file, t.line, "tenant example %s yields no tenant (is its label excluded?)", t.Example)
			}
		}
	}
}

// Limits of a dns_txt rule. TXT verification prefixes are a few dozen
// characters; anything near these is a mistake.
const (
	minTXTPrefix  = 4
	maxTXTRuleLen = 256
	maxTXTHostLen = 190
)

// checkTXT validates an app's dns_txt rules, normalizes prefixes and hosts
// to lowercase and compiles patterns.
func (l *linter) checkTXT(f string, a *App) {
	seen := make(map[string]int)
	for i := range a.DNSTXT {
		r := &a.DNSTXT[i]
		what := "dns_txt"
		switch {
		case r.Prefix != "" && r.Pattern != "":
			l.add(f, r.line, "dns_txt: give a prefix or a pattern, not both")
			continue
		case r.Prefix == "" && r.Pattern == "":
			l.add(f, r.line, "dns_txt: give a prefix (how the record starts) or a pattern (a regular expression)")
			continue
		case r.Prefix != "":
			what = fmt.Sprintf("dns_txt prefix %q", r.Prefix)
			if err := checkTXTPrefix(r.Prefix); err != nil {
				l.add(f, r.line, "%s: %v", what, err)
				continue
			}
			r.Prefix = strings.ToLower(r.Prefix)
		default:
			what = fmt.Sprintf("dns_txt pattern %q", r.Pattern)
			if len(r.Pattern) > maxTXTRuleLen {
				l.add(f, r.line, "%s: longer than %d characters", what, maxTXTRuleLen)
				continue
			}
			re, err := regexp.Compile(r.Pattern)
			if err != nil {
				l.add(f, r.line, "%s: %v", what, err)
				continue
			}
			if re.MatchString("") {
				l.add(f, r.line, "%s matches an empty record, so it would match every record", what)
				continue
			}
			r.re = re
		}
		if r.Host != "" {
			h, err := normalizeTXTHost(r.Host)
			if err != nil {
				l.add(f, r.line, "%s: %v", what, err)
				continue
			}
			r.Host = h
		}
		key := r.Host + "\x00" + r.Prefix + "\x00" + r.Pattern
		if first, dup := seen[key]; dup {
			l.add(f, r.line, "%s is listed twice in this file (first at line %d)", what, first)
			continue
		}
		seen[key] = r.line
		r.ok = true
	}
}

func checkTXTPrefix(p string) error {
	if len(p) < minTXTPrefix || len(p) > maxTXTRuleLen {
		return fmt.Errorf("must be %d to %d characters", minTXTPrefix, maxTXTRuleLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c > 0x7e {
			return errors.New("must be printable ASCII (write a pattern for anything else)")
		}
	}
	if strings.TrimSpace(p) != p {
		return errors.New("must not start or end with a space")
	}
	return nil
}

// normalizeTXTHost checks a host relative to the company domain
// ("google._domainkey") and lowercases it.
func normalizeTXTHost(h string) (string, error) {
	h = strings.ToLower(h)
	bad := fmt.Errorf("host %q must be DNS labels (letters, digits, - and _) under the company domain, such as google._domainkey", h)
	if len(h) > maxTXTHostLen {
		return "", bad
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "", bad
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", bad
			}
		}
	}
	return h, nil
}

// checkTXTOwnership enforces that a TXT record names one vendor: no two
// apps claim the same prefix or pattern at the same host, and no app's
// prefix starts another app's (every record of the longer one would match
// both).
func (l *linter) checkTXTOwnership(c *Catalog) {
	type claim struct {
		app  *App
		rule *TXTRule
	}
	var claims []claim
	for _, a := range c.Apps {
		for i := range a.DNSTXT {
			r := &a.DNSTXT[i]
			if !r.ok {
				continue // checkTXT reported it
			}
		conflicts:
			for _, prev := range claims {
				if prev.app == a || prev.rule.Host != r.Host {
					continue
				}
				where := fmt.Sprintf("app %s (%s:%d)", prev.app.ID, prev.app.file, prev.rule.line)
				switch {
				case r.Pattern != "" && r.Pattern == prev.rule.Pattern:
					l.add(a.file, r.line, "dns_txt pattern %q is already claimed by %s", r.Pattern, where)
				case r.Prefix == "" || prev.rule.Prefix == "":
					continue
				case r.Prefix == prev.rule.Prefix:
					l.add(a.file, r.line, "dns_txt prefix %q is already claimed by %s", r.Prefix, where)
				case strings.HasPrefix(r.Prefix, prev.rule.Prefix), strings.HasPrefix(prev.rule.Prefix, r.Prefix):
					l.add(a.file, r.line, "dns_txt prefix %q overlaps prefix %q of %s: a record could not tell the apps apart", r.Prefix, prev.rule.Prefix, where)
				default:
					continue
				}
				break conflicts // one conflict per rule is enough to fix it
			}
			claims = append(claims, claim{a, r})
		}
	}
}
