package signatures

import (
	"sort"
	"strings"
)

// TXTMatch is an app whose verification record MatchTXT found.
type TXTMatch struct {
	App  *App
	Rule *TXTRule
	// End is where the matched part of the record ends (the prefix, or
	// the pattern's match): what follows is usually the customer's token,
	// which callers shorten before storing.
	End int
}

type txtEntry struct {
	app  *App
	rule *TXTRule
}

// txtIndex holds the dns_txt rules per host ("" for the apex), in catalog
// order so results are stable.
type txtIndex struct {
	byHost map[string][]txtEntry
	hosts  []string
}

func buildTXTIndex(apps []*App) txtIndex {
	x := txtIndex{byHost: make(map[string][]txtEntry)}
	for _, a := range apps {
		for i := range a.DNSTXT {
			r := &a.DNSTXT[i]
			if !r.ok {
				continue // did not lint; Load fails anyway
			}
			if _, ok := x.byHost[r.Host]; !ok && r.Host != "" {
				x.hosts = append(x.hosts, r.Host)
			}
			x.byHost[r.Host] = append(x.byHost[r.Host], txtEntry{a, r})
		}
	}
	sort.Strings(x.hosts)
	return x
}

// TXTHosts lists the hosts under a company domain, besides the domain
// itself, where catalog apps' records live ("google._domainkey"), sorted.
func (c *Catalog) TXTHosts() []string {
	return append([]string(nil), c.txt.hosts...)
}

// MatchTXT matches a TXT record found at a company domain itself (its
// strings joined, as DNS clients show them) against the apps' dns_txt
// rules. One record can name several vendors (an SPF record including
// two mail senders), so every app that matches is returned, once, in
// catalog order.
func (c *Catalog) MatchTXT(record string) []TXTMatch {
	return c.MatchTXTAt("", record)
}

// MatchTXTAt is MatchTXT for a record found at host under the company
// domain ("google._domainkey"; "" for the domain itself).
func (c *Catalog) MatchTXTAt(host, record string) []TXTMatch {
	host = strings.ToLower(strings.Trim(host, "."))
	entries := c.txt.byHost[host]
	if len(entries) == 0 {
		return nil
	}
	// Matching ignores surrounding spaces; End still counts from the
	// start of the record as given.
	trimmed := strings.TrimLeft(record, " \t")
	lead := len(record) - len(trimmed)
	record = strings.TrimRight(trimmed, " \t")
	var out []TXTMatch
	for _, e := range entries {
		if len(out) > 0 && out[len(out)-1].App == e.app {
			continue // an app's rules are adjacent: it already matched
		}
		end := -1
		if p := e.rule.Prefix; p != "" {
			// Prefixes are ASCII, so a byte-length cut cannot make a
			// non-ASCII record look equal.
			if len(record) >= len(p) && strings.EqualFold(record[:len(p)], p) {
				end = len(p)
			}
		} else if loc := e.rule.re.FindStringIndex(record); loc != nil {
			end = loc[1]
		}
		if end >= 0 {
			out = append(out, TXTMatch{App: e.app, Rule: e.rule, End: lead + end})
		}
	}
	return out
}
