package inventory

import (
	"cmp"
	"slices"
	"strings"
)

// DomainCount is an unknown domain and how many distinct devices saw it.
type DomainCount struct {
	Domain  string `json:"domain"`
	Devices int    `json:"devices"`
}

// UnknownDomainCandidates keeps the domains seen on at least k devices,
// most devices first, then by name. This is the privacy threshold of the
// agent's unknown-domain telemetry: a domain fewer than k devices saw
// could point at one person, so it is never shown. Names are lowercased
// and stripped of a trailing dot; two spellings of one name keep the
// larger count, since device counts of the same devices do not add up. A
// k below 1 means DefaultKDevices, so a caller cannot switch the
// threshold off by mistake.
func UnknownDomainCandidates(deviceCounts map[string]int, k int) []DomainCount {
	if k < 1 {
		k = DefaultKDevices
	}
	merged := make(map[string]int, len(deviceCounts))
	for d, n := range deviceCounts {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d != "" {
			merged[d] = max(merged[d], n)
		}
	}
	var out []DomainCount
	for d, n := range merged {
		if n >= k {
			out = append(out, DomainCount{Domain: d, Devices: n})
		}
	}
	slices.SortFunc(out, func(a, b DomainCount) int {
		if c := cmp.Compare(b.Devices, a.Devices); c != 0 {
			return c
		}
		return cmp.Compare(a.Domain, b.Domain)
	})
	return out
}

// UnknownDomains is UnknownDomainCandidates with the inventory's
// threshold (Options.KDevices), leaving out names the catalog now knows:
// an app's domain (the catalog was updated after the agent reported it)
// or a noise entry, which never becomes an app.
func (inv *Inventory) UnknownDomains(deviceCounts map[string]int) []DomainCount {
	out := UnknownDomainCandidates(deviceCounts, inv.kDevices)
	if inv.catalog == nil {
		return out
	}
	return slices.DeleteFunc(out, func(d DomainCount) bool {
		m := inv.catalog.MatchDomain(d.Domain)
		return m.App != nil || m.Noise != nil
	})
}
