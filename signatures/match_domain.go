package signatures

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Match is what MatchDomain found for a name.
type Match struct {
	// App is the matched app, nil when the name is not an app's (unknown
	// or noise).
	App *App
	// Role is the role of the matched domain or tenant pattern.
	Role Role
	// Domain is the catalog suffix that matched: the name reported
	// upstream instead of the full name seen.
	Domain string
	// Tenant is the customer's label (acme in acme.slack.com), or "".
	Tenant string
	// Noise is the noise entry that won, when the name is infrastructure.
	Noise *NoiseEntry
}

// CountsAsUse reports whether the match alone is evidence of use: an app
// matched with role app, login or api.
func (m Match) CountsAsUse() bool { return m.App != nil && m.Role.CountsAsUse() }

// FNV-1a, 64 bit. Suffixes are hashed from their last byte to their first
// so that the hash of every suffix of a name falls out of one right-to-left
// pass over it.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hashReversed(s string) uint64 {
	h := uint64(fnvOffset)
	for i := len(s) - 1; i >= 0; i-- {
		h ^= uint64(lowerASCII(s[i]))
		h *= fnvPrime
	}
	return h
}

// equalFoldASCII compares a name fragment with a lowercase catalog suffix.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// suffixEntry is everything the catalog says about one DNS suffix.
type suffixEntry struct {
	hash   uint64
	suffix string

	app         *App
	hasDomain   bool
	domainRole  Role
	domainExact bool
	tenant      *Tenant

	noise *NoiseEntry
}

// domainIndex is an open-addressing hash table from suffix to entry. A
// Go map would need the suffix as a string key, and so a lowercase copy
// of the name on every lookup; hashing in place keeps the hot path free
// of allocation.
type domainIndex struct {
	entries []suffixEntry
	slots   []int32 // entry index + 1; 0 is empty
	mask    uint64
}

func buildDomainIndex(apps []*App, noise []NoiseEntry) domainIndex {
	var x domainIndex
	pos := make(map[string]int)
	get := func(suffix string) *suffixEntry {
		if i, ok := pos[suffix]; ok {
			return &x.entries[i]
		}
		pos[suffix] = len(x.entries)
		x.entries = append(x.entries, suffixEntry{hash: hashReversed(suffix), suffix: suffix})
		return &x.entries[len(x.entries)-1]
	}
	for _, a := range apps {
		for _, d := range a.Domains {
			e := get(d.Name)
			if e.app != nil && e.app != a {
				continue // lint reports the conflict; the first owner keeps it
			}
			e.app, e.hasDomain, e.domainRole, e.domainExact = a, true, d.Role, d.Exact
		}
		for i := range a.Tenants {
			t := &a.Tenants[i]
			e := get(t.Suffix)
			if e.app != nil && e.app != a {
				continue
			}
			e.app, e.tenant = a, t
		}
	}
	for i := range noise {
		get(noise[i].Domain).noise = &noise[i]
	}

	size := 1
	for size < 2*len(x.entries)+1 {
		size <<= 1
	}
	x.slots = make([]int32, size)
	x.mask = uint64(size - 1)
	for i := range x.entries {
		j := x.entries[i].hash & x.mask
		for x.slots[j] != 0 {
			j = (j + 1) & x.mask
		}
		x.slots[j] = int32(i + 1)
	}
	return x
}

func (x *domainIndex) lookup(h uint64, suffix string) *suffixEntry {
	if len(x.slots) == 0 {
		return nil
	}
	for j := h & x.mask; ; j = (j + 1) & x.mask {
		s := x.slots[j]
		if s == 0 {
			return nil
		}
		e := &x.entries[s-1]
		if e.hash == h && equalFoldASCII(suffix, e.suffix) {
			return e
		}
	}
}

// MatchDomain matches a DNS name or TLS server name against the catalog.
// Case and a trailing dot are ignored; Unicode names are compared in their
// punycode form. The longest matching suffix wins, and noise wins a tie.
// For ASCII names it does not allocate unless it must lowercase a tenant
// label that arrived in upper case.
func (c *Catalog) MatchDomain(name string) Match {
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if name == "" {
		return Match{}
	}
	if !isASCII(name) {
		if !utf8.ValidString(name) {
			return Match{}
		}
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return Match{}
		}
		name = a
	}

	var best Match
	h := uint64(fnvOffset)
	for i := len(name) - 1; i >= 0; i-- {
		h ^= uint64(lowerASCII(name[i]))
		h *= fnvPrime
		if i > 0 && name[i-1] != '.' {
			continue
		}
		e := c.domains.lookup(h, name[i:])
		if e == nil {
			continue
		}
		whole := i == 0
		if e.noise != nil {
			if !e.noise.Exact || whole {
				best = Match{Domain: e.suffix, Noise: e.noise}
			}
			continue
		}
		if e.tenant != nil && !whole {
			if tenant := tenantLabel(name[:i-1], e.tenant); tenant != "" {
				best = Match{App: e.app, Role: e.tenant.Role, Domain: e.suffix, Tenant: tenant}
				continue
			}
		}
		if e.hasDomain && (!e.domainExact || whole) {
			best = Match{App: e.app, Role: e.domainRole, Domain: e.suffix}
		}
	}
	return best
}

// tenantLabel returns the tenant named by the last label of prefix (the
// part of a name left of a tenant suffix, without the dot), or "".
func tenantLabel(prefix string, t *Tenant) string {
	label := prefix[strings.LastIndexByte(prefix, '.')+1:]
	for _, x := range t.Exclude {
		if equalFoldASCII(label, x) {
			return ""
		}
	}
	for _, s := range t.TrimSuffixes {
		if len(label) > len(s) && equalFoldASCII(label[len(label)-len(s):], s) {
			label = label[:len(label)-len(s)]
			break
		}
	}
	if label == "" || label[0] == '-' || label[len(label)-1] == '-' || len(label) > 63 {
		return ""
	}
	upper := false
	for i := 0; i < len(label); i++ {
		switch c := label[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "" // not a hostname label: nobody's tenant
		}
	}
	if upper {
		return strings.ToLower(label)
	}
	return label
}
