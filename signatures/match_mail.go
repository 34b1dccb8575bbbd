package signatures

import (
	"net/mail"
	"regexp"
	"strings"
)

// MailHeader is what the mail matcher looks at: never the body.
type MailHeader struct {
	// From is the From header as received ("Vercel <invoice+statements@vercel.com>")
	// or a bare address.
	From string
	// DisplayName overrides the display name parsed from From, for
	// importers that already split it.
	DisplayName string
	Subject     string
}

// MailMatch is what MatchMailSender found.
type MailMatch struct {
	// App is the vendor the mail is from, nil when none was recognised.
	App *App
	// Kind is what the mail proves (invoice, receipt, signup, security,
	// marketing), or "" when its subject says nothing the matcher knows.
	Kind MailKind
	// Processor names the payment processor that sent the mail for the
	// vendor (stripe, paddle), or "".
	Processor string
	// By says what identified the vendor: sender_address, sender_domain,
	// app_domain, legal_name or display_name. A display name alone is
	// the weakest: anyone can put "Slack" in a From header.
	By string
	// NeedsBody is set for processor mail (Paddle) whose headers do not
	// name the vendor: the importer must find the vendor in the body.
	NeedsBody bool
}

type mailIndex struct {
	addresses map[string]*App
	domains   map[string]*App
	// merchants holds every name a processor may print for a vendor:
	// legal names, mail display names, vendor and app names and aliases.
	// It is consulted only for processor mail, where the name is the
	// merchant's.
	merchants map[string]*App
	// displayNames holds only the display names a catalog file declares
	// for the vendor's own mail: app names such as "Kit" or "Pilot" are
	// also people's names.
	displayNames map[string]*App
	subjects     map[*App][]compiledSubject
}

type compiledSubject struct {
	re   *regexp.Regexp
	kind MailKind
}

func buildMailIndex(apps []*App) mailIndex {
	x := mailIndex{
		addresses:    make(map[string]*App),
		domains:      make(map[string]*App),
		merchants:    make(map[string]*App),
		displayNames: make(map[string]*App),
		subjects:     make(map[*App][]compiledSubject),
	}
	addName := func(index map[string]*App, n string, a *App) {
		if n = normalizeLegalName(n); n != "" {
			if _, taken := index[n]; !taken {
				index[n] = a
			}
		}
	}
	for _, a := range apps {
		m := a.Mail
		if m == nil {
			continue
		}
		for _, s := range m.SenderAddresses {
			x.addresses[strings.ToLower(s)] = a
		}
		for _, d := range m.SenderDomains {
			if _, taken := x.domains[d]; !taken {
				x.domains[d] = a
			}
		}
		for _, n := range m.LegalNames {
			addName(x.merchants, n, a)
		}
		for _, n := range m.DisplayNames {
			addName(x.merchants, n, a)
			addName(x.displayNames, n, a)
		}
		for _, s := range m.Subjects {
			if s.re != nil { // nil when lint rejected the pattern
				x.subjects[a] = append(x.subjects[a], compiledSubject{s.re, s.Kind})
			}
		}
	}
	// Names of apps without mail matchers still identify a vendor on a
	// processor receipt ("Your receipt from Linear Orbit, Inc."), after
	// every declared mail name.
	for _, a := range apps {
		addName(x.merchants, a.Vendor, a)
		addName(x.merchants, a.Name, a)
		for _, n := range a.Aliases {
			addName(x.merchants, n, a)
		}
	}
	return x
}

// Subject shapes that name the vendor, as processors and vendors write
// them. The first group is the name.
var vendorSubjects = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^\s*your receipt from (.+?)\s*(?:#\s*[\w-]+)?\s*$`),
	regexp.MustCompile(`(?i)^\s*receipt from (.+?)\s*(?:#\s*[\w-]+)?\s*$`),
	regexp.MustCompile(`(?i)^\s*your invoice (?:[\w-]+ )?from (.+?)\s*(?:#\s*[\w-]+)?\s*$`),
	regexp.MustCompile(`(?i)^\s*invoice [\w-]+ from (.+?) has been`),
	regexp.MustCompile(`(?i)products provided by (.+?)\s*$`),
	regexp.MustCompile(`(?i)^\s*your (.+?) (?:receipt|invoice)\s*$`),
	regexp.MustCompile(`(?i)^\s*welcome to (.+?)[!.]?\s*$`),
}

// Generic subject words for mail whose app has no pattern of its own.
var genericKinds = []compiledSubject{
	{regexp.MustCompile(`(?i)\breceipt\b|\bpayment (?:received|confirmation|successful)\b|\bthanks for your (?:payment|purchase|order)\b`), MailReceipt},
	{regexp.MustCompile(`(?i)\binvoice\b|\bbilling statement\b|\bsubscription (?:renewal|renewed)\b`), MailInvoice},
	{regexp.MustCompile(`(?i)\bwelcome to\b|\bverify your (?:email|account)\b|\bconfirm your (?:email|account|sign ?up|registration)\b|\bactivate your account\b|\bfinish (?:setting up|signing up)\b|\bget started with\b|\binvited you\b|\binvitation to join\b|\bjoin .+ on\b`), MailSignup},
	{regexp.MustCompile(`(?i)\b(?:sign[- ]?in|login|verification|security) code\b|\bpassword reset\b|\breset your password\b|\bnew (?:sign[- ]?in|login)\b|\bmagic link\b|\btwo-factor\b`), MailSecurity},
}

// MatchMailSender identifies the SaaS vendor behind a billing, receipt or
// sign-up mail from its headers: the sender address or domain, the legal
// name on a Stripe or Paddle receipt, or the display name.
func (c *Catalog) MatchMailSender(h MailHeader) MailMatch {
	addr, display := parseFrom(h.From)
	if h.DisplayName != "" {
		display = h.DisplayName
	}
	local, domain := "", ""
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		local, domain = addr[:at], strings.TrimSuffix(addr[at+1:], ".")
	}

	var m MailMatch
	switch {
	case strings.HasPrefix(local, "invoice+statements"), domainUnder(domain, "stripe.com"):
		// Stripe-hosted receipts come from invoice+statements@ at the
		// vendor's own domain, or from stripe.com itself.
		m.Processor = "stripe"
	case domainUnder(domain, "paddle.com"), domainUnder(domain, "paddle.net"):
		m.Processor = "paddle"
	}

	x := &c.mail
	switch {
	case addr != "" && x.addresses[addr] != nil:
		m.App, m.By = x.addresses[addr], "sender_address"
	case m.Processor == "" || m.Processor == "stripe" && !domainUnder(domain, "stripe.com"):
		if a := x.senderDomain(domain); a != nil {
			m.App, m.By = a, "sender_domain"
		} else if dm := c.MatchDomain(domain); dm.App != nil {
			m.App, m.By = dm.App, "app_domain"
		}
	}
	if m.App == nil && m.Processor != "" {
		// A processor's mail names the merchant: in the subject, or in
		// the display name ("Acme via Paddle").
		if a := x.nameInSubject(h.Subject); a != nil {
			m.App, m.By = a, "legal_name"
		} else if a := x.merchants[normalizeLegalName(beforeVia(display))]; a != nil {
			m.App, m.By = a, "display_name"
		}
	}
	if m.App == nil && m.Processor == "" && display != "" {
		// The weakest evidence: a declared display name from an unknown
		// sender, and only on mail whose subject looks like a vendor's.
		if a := x.displayNames[normalizeLegalName(beforeVia(display))]; a != nil && x.kind(a, h.Subject) != "" {
			m.App, m.By = a, "display_name"
		}
	}

	m.Kind = x.kind(m.App, h.Subject)
	if m.Processor != "" && m.Kind == "" {
		m.Kind = MailReceipt
	}
	if m.App == nil && m.Processor == "paddle" {
		m.NeedsBody = true
	}
	return m
}

// senderDomain finds the app whose mail sender domains cover domain,
// the longest suffix first.
func (x *mailIndex) senderDomain(domain string) *App {
	if domain == "" {
		return nil
	}
	for d := domain; ; {
		if a := x.domains[d]; a != nil {
			return a
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return nil
		}
		d = d[i+1:]
	}
}

func (x *mailIndex) nameInSubject(subject string) *App {
	for _, re := range vendorSubjects {
		if sm := re.FindStringSubmatch(subject); sm != nil {
			if a := x.merchants[normalizeLegalName(sm[1])]; a != nil {
				return a
			}
		}
	}
	return nil
}

func (x *mailIndex) kind(a *App, subject string) MailKind {
	if subject == "" {
		return ""
	}
	for _, s := range x.subjects[a] {
		if s.re.MatchString(subject) {
			return s.kind
		}
	}
	for _, s := range genericKinds {
		if s.re.MatchString(subject) {
			return s.kind
		}
	}
	return ""
}

// parseFrom splits a From header into a lowercase address and a display
// name, tolerating headers net/mail rejects.
func parseFrom(from string) (addr, display string) {
	from = strings.TrimSpace(from)
	if from == "" {
		return "", ""
	}
	if a, err := mail.ParseAddress(from); err == nil {
		return strings.ToLower(a.Address), a.Name
	}
	if lt := strings.LastIndexByte(from, '<'); lt >= 0 {
		rest := from[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			rest = rest[:gt]
		}
		return strings.ToLower(strings.TrimSpace(rest)), strings.Trim(strings.TrimSpace(from[:lt]), `"`)
	}
	return strings.ToLower(from), ""
}

func domainUnder(domain, parent string) bool {
	return domain == parent || strings.HasSuffix(domain, "."+parent)
}

// beforeVia cuts " via <processor>" off a display name.
func beforeVia(display string) string {
	if i := indexFoldASCII(display, " via "); i > 0 {
		return display[:i]
	}
	return display
}

// indexFoldASCII is strings.Index ignoring ASCII case, on the original
// bytes: lowercasing first could change the length of non-ASCII text.
func indexFoldASCII(s, lowerSub string) int {
	for i := 0; i+len(lowerSub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(lowerSub)], lowerSub) {
			return i
		}
	}
	return -1
}
