package api

import (
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// privateSuffixes are names that never lead to a SaaS on the internet:
// special-use and reserved TLDs (RFC 6761, RFC 8375, RFC 9476, ICANN's
// .internal), the names companies and home routers use inside their
// networks, and the reverse zones. A lookup under them says something
// about a network, not about an app, so the telemetry never counts it.
var privateSuffixes = []string{
	"local", "localhost", "localdomain", "lan", "home", "corp", "internal", "intranet",
	"private", "test", "example", "invalid", "onion", "alt", "arpa",
}

// RegistrableDomain reduces a DNS name to its registrable domain (eTLD+1
// by the public suffix list: www.bbc.co.uk -> bbc.co.uk) for the agent's
// unknown-domain telemetry. It reports false for names that must not be
// counted: IP addresses, single labels, names under a private or reserved
// suffix (.local, .lan, .internal, .home.arpa, .corp...), reverse zones,
// names under a TLD the public suffix list does not know, names that are
// a public suffix themselves, and anything that is not a DNS hostname of
// at most MaxDomainLen bytes. name may end with a dot; the result is
// lowercase. It does not allocate when name is already lowercase.
func RegistrableDomain(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > MaxDomainLen {
		return "", false
	}
	lower := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			lower = false
		case isLowerAlnum(c) || c == '-' || c == '.' || c == '_':
		default:
			return "", false // IPv6, spaces, non-ASCII: not a hostname
		}
	}
	if !lower {
		name = strings.ToLower(name)
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return "", false // a single label: a host on the local network
	}
	tld := name[dot+1:]
	if allDigits(tld) {
		return "", false // an IPv4 address, or shaped like one
	}
	if slices.Contains(privateSuffixes, tld) {
		return "", false
	}
	suffix, icann := publicsuffix.PublicSuffix(name)
	if !icann && !strings.Contains(suffix, ".") {
		// No rule matched: the list's default "*" rule. A TLD nobody
		// delegated is a private name.
		return "", false
	}
	if len(name) <= len(suffix) || name[len(name)-len(suffix)-1] != '.' {
		return "", false // a public suffix itself: co.uk, github.io
	}
	rest := name[:len(name)-len(suffix)-1]
	reg := name[strings.LastIndexByte(rest, '.')+1:]
	if !isDomain(reg) {
		return "", false // an empty label, an underscore, a dash at an end
	}
	return reg, true
}

// isRegistrable reports whether s is a registrable domain exactly as
// RegistrableDomain yields one.
func isRegistrable(s string) bool {
	r, ok := RegistrableDomain(s)
	return ok && r == s // RegistrableDomain checked isDomain(r)
}
