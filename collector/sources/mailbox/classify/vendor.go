package classify

import (
	"regexp"
	"strings"

	"github.com/shadowmap/shadowmap/signatures"
)

// vendor is who a message is from, as far as the classifier can tell.
type vendor struct {
	app *signatures.App
	// by says how app was identified (the matcher's By, or "body").
	by string
	// vendor is the name the message gives the vendor.
	vendor    string
	processor string
	// weak is set when only a From display name ties the message to
	// app: anyone can write "Slack" in a From header, so such a message
	// is no proof of spend.
	weak bool
}

// processorOf names the payment processor that sent a message, from its
// sender address (and what the catalog matcher already found).
func processorOf(addr, matched string) string {
	if matched != "" {
		return matched
	}
	local, domain, _ := strings.Cut(addr, "@")
	switch {
	case domainUnder(domain, "paddle.com"), domainUnder(domain, "paddle.net"):
		return "paddle"
	case domainUnder(domain, "chargebee.com"):
		return "chargebee"
	case domainUnder(domain, "apple.com"):
		return "apple"
	case domain == "google.com" && strings.HasPrefix(local, "googleplay"):
		return "google"
	case strings.HasPrefix(local, "invoice+statements"), domainUnder(domain, "stripe.com"):
		return "stripe"
	}
	return ""
}

func domainUnder(domain, parent string) bool {
	return domain == parent || strings.HasSuffix(domain, "."+parent)
}

// Processors also show in the body of mail sent from a vendor's own
// domain: Paddle's legal line, Chargebee's and Stripe's hosted pages.
var (
	paddleBodyRe    = regexp.MustCompile(`(?i)paddle\.com market (?:ltd|limited)|\bvia paddle\b|\bpaddle\.net\b|\bpaddle\.com/`)
	chargebeeBodyRe = regexp.MustCompile(`(?i)\bchargebee\b`)
	stripeBodyRe    = regexp.MustCompile(`(?i)\b(?:pay|invoice|invoicedata|receipt)\.stripe\.com\b|\bpowered by stripe\b`)
)

// Where a processor's mail names the merchant.
var (
	paddleOnBehalfRe = regexp.MustCompile(`(?i)\bon behalf of\s+([^\n\t.,;()]{2,60})`)
	boughtFromRe     = regexp.MustCompile(`(?i)\byou bought\s+(.{2,60}?)\s+from\s+([^\n\t;()]{2,60}?)\.?\s*$`)
	viaPaddleRe      = regexp.MustCompile(`(?i)(?:^|[\t:]|\bfrom\s)\s*([^\n\t:;()]{2,60}?)\s+via paddle\b`)
	merchantLineRe   = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:your )?(?:receipt|invoice|order|purchase|subscription) (?:from|to|for|with)\s+([^\n\t#.,;()!]{2,60}?)\s*(?:[#.,;(!\t]|\bis\b|\bhas\b|\bfor\b|$)`),
		regexp.MustCompile(`(?i)\b(?:payment|subscription) to\s+([^\n\t#.,;()!]{2,60}?)\s*(?:[#.,;(!\t]|\bhas\b|\bwas\b|$)`),
		regexp.MustCompile(`(?i)^\s*(?:merchant|seller|vendor|sold by|billed by|company|app|subscription|product|item)\s*:?\s*\t?\s*([^\n\t#;()]{2,60}?)\s*(?:[\t(]|$)`),
		regexp.MustCompile(`(?i)^\s*([^\n\t#;()]{2,60}?)\s+has sent you an invoice\b`),
	}
)

// identify finds the vendor: the catalog matcher's verdict on the headers
// when a sender address, domain or legal name backs it, else the merchant
// a processor's mail names in its body.
func identify(c *signatures.Catalog, mm signatures.MailMatch, addr, display, subject string, lines []string) vendor {
	v := vendor{processor: processorOf(addr, mm.Processor)}
	body := strings.Join(lines, "\n")
	if len(body) > 20000 {
		body = body[:20000]
	}
	if v.processor == "" {
		switch {
		case paddleBodyRe.MatchString(body):
			v.processor = "paddle"
		case stripeBodyRe.MatchString(body):
			v.processor = "stripe"
		case chargebeeBodyRe.MatchString(body) && mm.App != nil && mm.App.ID != "chargebee":
			v.processor = "chargebee"
		}
	}
	if mm.App != nil {
		v.app, v.by = mm.App, mm.By
		v.vendor = mm.App.Vendor
	}
	_, senderDomain, _ := strings.Cut(addr, "@")
	fromProcessor := v.processor != "" && senderIsProcessor(v.processor, addr, senderDomain)
	if v.app != nil && v.by == "display_name" && !fromProcessor {
		v.weak = true
	}
	// The processor's own catalog entry (Chargebee, Paddle, Apple) is not
	// who its receipts are for.
	if v.app != nil && fromProcessor && isProcessorApp(v.app.ID, v.processor) {
		v.app, v.by, v.vendor = nil, "", ""
	}
	if name := legalNameInSubject(subject); name != "" && v.app != nil && v.by == "legal_name" {
		v.vendor = name
	}
	if v.app != nil && !v.weak {
		v.app = siblingApp(c, v.app, subject, lines)
		return v
	}
	// The body names the merchant.
	if a, name := merchantInBody(c, v.processor, display, subject, lines, body); a != nil {
		v.app, v.by, v.vendor, v.weak = a, "body", name, false
		if !fromProcessor && v.processor == "" {
			// A merchant named in the body of mail from nobody in
			// particular is no stronger than a display name.
			v.weak = true
		}
		return v
	} else if name != "" && v.vendor == "" {
		v.vendor = name
	}
	return v
}

// senderIsProcessor reports whether the sender address belongs to the
// processor itself, which vouches for the merchant it names.
func senderIsProcessor(proc, addr, domain string) bool {
	switch proc {
	case "paddle":
		return domainUnder(domain, "paddle.com") || domainUnder(domain, "paddle.net")
	case "chargebee":
		return domainUnder(domain, "chargebee.com")
	case "apple":
		return domainUnder(domain, "apple.com")
	case "google":
		return domain == "google.com"
	case "stripe":
		return domainUnder(domain, "stripe.com") || strings.HasPrefix(addr, "invoice+statements@")
	}
	return false
}

func isProcessorApp(appID, proc string) bool {
	switch proc {
	case "paddle", "chargebee", "stripe":
		return appID == proc
	case "apple":
		return strings.HasPrefix(appID, "apple") || appID == "icloud"
	case "google":
		return strings.HasPrefix(appID, "google")
	}
	return false
}

var legalNameSubjectRe = regexp.MustCompile(`(?i)^\s*(?:your )?receipt from (.+?)\s*(?:#\s*[\w-]+)?\s*$`)

func legalNameInSubject(subject string) string {
	if m := legalNameSubjectRe.FindStringSubmatch(subject); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

// merchantInBody finds the merchant a processor's mail names, and the
// name as printed (returned even when the catalog does not know it).
func merchantInBody(c *signatures.Catalog, proc, display, subject string, lines []string, body string) (*signatures.App, string) {
	var candidates []string
	if proc == "paddle" {
		for _, m := range paddleOnBehalfRe.FindAllStringSubmatch(body, 4) {
			candidates = append(candidates, m[1])
		}
		for _, line := range lines {
			if m := viaPaddleRe.FindStringSubmatch(line); m != nil {
				candidates = append(candidates, m[1])
			}
			if m := boughtFromRe.FindStringSubmatch(line); m != nil {
				candidates = append(candidates, m[2], m[1])
			}
		}
	}
	if proc != "" && display != "" {
		// "Acme via Paddle", "Acme (via Chargebee)", "Acme Billing".
		d := display
		if i := strings.Index(lowerASCII(d), " via "); i > 0 {
			d = d[:i]
		}
		candidates = append(candidates, strings.Trim(d, " ()"))
	}
	if name := legalNameInSubject(subject); name != "" {
		candidates = append(candidates, name)
	}
	for _, re := range merchantLineRe {
		for _, src := range append([]string{subject}, lines...) {
			if m := re.FindStringSubmatch(src); m != nil {
				candidates = append(candidates, m[1])
			}
		}
	}
	if proc == "apple" || proc == "google" {
		// App-store receipts list the app and subscription on a line
		// of their own: "ChatGPT Plus (Monthly)".
		for _, line := range lines {
			if len(line) <= 120 {
				// The name is the first cell: cut at a tab or a run of
				// spaces, where the price column begins.
				cell := planMoneyRe.ReplaceAllString(line, "")
				if i := strings.IndexAny(cell, "(["); i > 0 {
					cell = cell[:i]
				}
				candidates = append(candidates, strings.TrimSpace(cell))
			}
		}
	}
	first := ""
	for _, cand := range candidates {
		cand = strings.TrimSpace(cand)
		if cand == "" {
			continue
		}
		if first == "" && proc != "apple" && proc != "google" {
			first = cand
		}
		if a := merchant(c, cand); a != nil && !isProcessorApp(a.ID, proc) {
			return a, cand
		}
	}
	return nil, first
}

// Words a store receipt puts after the app name: "ChatGPT Plus (Monthly)"
// is ChatGPT.
var trailingWords = map[string]bool{
	"plus": true, "pro": true, "premium": true, "monthly": true, "annual": true, "yearly": true, "subscription": true,
	"plan": true, "team": true, "business": true, "personal": true, "individual": true, "family": true, "basic": true,
	"standard": true, "unlimited": true, "app": true, "membership": true, "renewal": true, "inc": true, "llc": true, "ltd": true,
}

// merchant looks a printed merchant name up in the catalog: its legal
// names, display names, vendor and app names and aliases. The catalog
// exposes that index only through MatchMailSender, for processor mail
// whose display name is the merchant, so the name is asked that way.
// Trailing plan words are cut one by one ("ChatGPT Plus" -> "ChatGPT").
func merchant(c *signatures.Catalog, name string) *signatures.App {
	name = strings.TrimSpace(name)
	if i := strings.IndexAny(name, "(["); i > 0 {
		name = strings.TrimSpace(name[:i])
	}
	for tries := 0; name != "" && tries < 4; tries++ {
		if len(name) >= 2 && len(name) <= 80 {
			mm := c.MatchMailSender(signatures.MailHeader{From: "merchant@paddle.com", DisplayName: name})
			if mm.App != nil && mm.By == "display_name" {
				return mm.App
			}
		}
		words := strings.Fields(name)
		if len(words) < 2 || !trailingWords[strings.ToLower(strings.Trim(words[len(words)-1], ".,-–:"))] {
			return nil
		}
		name = strings.Join(words[:len(words)-1], " ")
	}
	return nil
}

// siblingApp picks, among a vendor's apps, the one the message names:
// Anthropic bills and signs in both Claude and its API from one domain,
// and the line item "Claude Pro" or a subject naming Claude says which.
// The app the sender matched stays when the message names it too.
func siblingApp(c *signatures.Catalog, a *signatures.App, subject string, lines []string) *signatures.App {
	var siblings []*signatures.App
	for _, other := range c.Apps {
		if other != a && other.Vendor == a.Vendor {
			siblings = append(siblings, other)
		}
	}
	if len(siblings) == 0 {
		return a
	}
	texts := []string{subject}
	for _, line := range lines {
		if len(line) <= 60 && !strings.Contains(line, "://") && !strings.Contains(line, "www.") {
			texts = append(texts, line)
		}
	}
	for _, t := range texts {
		if namesApp(t, a) {
			return a
		}
		for _, other := range siblings {
			if namesApp(t, other) {
				return other
			}
		}
	}
	return a
}

// namesApp reports whether text names app a (its name or an alias) as
// whole words.
func namesApp(text string, a *signatures.App) bool {
	for _, n := range append([]string{a.Name}, a.Aliases...) {
		if i := strings.IndexAny(n, "(["); i > 0 {
			n = n[:i]
		}
		if n = strings.TrimSpace(n); len(n) >= 3 && containsWord(text, n) {
			return true
		}
	}
	return false
}

// containsWord reports whether word occurs in s, ignoring case, with no
// letter or digit on either side.
func containsWord(s, word string) bool {
	ls, lw := strings.ToLower(s), strings.ToLower(word)
	for off := 0; ; {
		i := strings.Index(ls[off:], lw)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(lw)
		if (i == 0 || !isWordByte(ls[i-1])) && (end == len(ls) || !isWordByte(ls[end])) {
			return true
		}
		off = i + 1
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}

// names are the words that may precede a plan tier on a line item: the
// app's and vendor's names.
func (v vendor) names() []string {
	var n []string
	if v.vendor != "" {
		n = append(n, v.vendor)
	}
	if v.app != nil {
		n = append(n, v.app.ID, v.app.Name, v.app.Vendor)
		n = append(n, v.app.Aliases...)
	}
	return n
}
