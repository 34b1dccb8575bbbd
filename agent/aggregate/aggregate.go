// Package aggregate turns the names an agent sees into daily sightings of
// catalog apps, on the laptop: each name is matched against the signature
// catalog, unmatched names are dropped on the spot, and what matched is
// counted per (app, matched domain, tenant, OS user, source, day) with the
// first and last time seen. Only these aggregates ever leave the laptop.
//
// With the opt-in unknown-domain telemetry (WithUnknownDomains), names
// that match nothing are not dropped outright: each is reduced to its
// registrable domain and counted per UTC day, domain and count only.
package aggregate

import (
	"sort"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/signatures"
)

// Source is where a name was seen.
type Source uint8

// The sources the agent reports.
const (
	SourceDNS Source = iota
	SourceSNI
)

func (s Source) String() string {
	if s == SourceSNI {
		return "sni"
	}
	return "dns"
}

// key is one aggregate. Domain comes from the catalog and user from the
// agent's configuration, so neither is copied per name; tenant is cloned
// once, when a key is first seen.
type key struct {
	app    *signatures.App
	domain string
	tenant string
	user   string
	day    int32 // days since the Unix epoch, UTC
	source Source
}

type counts struct {
	count       int64
	first, last time.Time
}

// Stats counts what the aggregator saw.
type Stats struct {
	Names     uint64 // names observed
	Matched   uint64 // names that matched an app and count as use
	NotUse    uint64 // matched an app through a static or marketing domain: dropped
	Noise     uint64 // on the noise list: dropped
	Unmatched uint64 // no app: dropped, or counted as an unknown domain

	// With unknown-domain telemetry on, every unmatched name is one of:
	UnknownCounted  uint64 // counted under its registrable domain
	UnknownPrivate  uint64 // an IP, a single label, a private suffix or the company's own domain: dropped
	UnknownOverflow uint64 // a new domain past the day's cap: dropped
}

// Aggregator counts app sightings. It is not safe for concurrent use: the
// capture loop owns it and hands its contents to the spool with Flush.
type Aggregator struct {
	catalog *signatures.Catalog
	m       map[key]*counts
	stats   Stats
	unknown *unknownCounter // nil unless the telemetry is on
}

// Option configures an Aggregator.
type Option func(*Aggregator)

// New returns an empty aggregator over catalog.
func New(catalog *signatures.Catalog, opts ...Option) *Aggregator {
	a := &Aggregator{catalog: catalog, m: make(map[key]*counts)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// SetCatalog switches to a newer catalog (an update fetched from the
// collector). Aggregates already counted keep the apps they matched.
func (a *Aggregator) SetCatalog(c *signatures.Catalog) { a.catalog = c }

// Observe counts one name seen at t by user. It does not allocate unless
// the aggregate is new.
func (a *Aggregator) Observe(name string, src Source, user string, t time.Time) {
	a.stats.Names++
	m := a.catalog.MatchDomain(name)
	switch {
	case m.App == nil && m.Noise != nil:
		a.stats.Noise++
		return
	case m.App == nil:
		a.stats.Unmatched++
		if a.unknown != nil {
			a.unknown.observe(name, dayOf(t), &a.stats)
		}
		return
	case !m.CountsAsUse():
		// A CDN or widget host other sites load too, or the vendor's
		// public site: it says nothing about use on its own.
		a.stats.NotUse++
		return
	}
	a.stats.Matched++
	t = t.UTC()
	k := key{app: m.App, domain: m.Domain, tenant: m.Tenant, user: user, day: dayOf(t), source: src}
	if c := a.m[k]; c != nil {
		c.count++
		if t.Before(c.first) {
			c.first = t
		}
		if t.After(c.last) {
			c.last = t
		}
		return
	}
	k.tenant = strings.Clone(k.tenant) // the name's bytes may be reused by capture
	a.m[k] = &counts{count: 1, first: t, last: t}
}

// dayOf is t's UTC day as days since the Unix epoch.
func dayOf(t time.Time) int32 {
	u := t.Unix()
	if u < 0 {
		return int32((u - 86399) / 86400)
	}
	return int32(u / 86400)
}

// dayString formats a day from dayOf as YYYY-MM-DD.
func dayString(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// Stats returns the counters since the aggregator was made.
func (a *Aggregator) Stats() Stats { return a.stats }

// Len is the number of aggregates held: app sightings and unknown-domain
// counts.
func (a *Aggregator) Len() int {
	n := len(a.m)
	if a.unknown != nil {
		n += a.unknown.pending
	}
	return n
}

// FlushAll returns and empties everything held: the app sightings, as
// Flush does, and the unknown-domain counts, as FlushUnknownDomains does.
// Both go in one upload batch (api.SightingsBatch).
func (a *Aggregator) FlushAll() ([]api.Sighting, []api.UnknownDomain) {
	return a.Flush(), a.FlushUnknownDomains()
}

// FlushUnknownDomains returns the unknown-domain counts, sorted by day and
// domain, and empties them; nil when the telemetry is off or nothing was
// counted.
func (a *Aggregator) FlushUnknownDomains() []api.UnknownDomain {
	if a.unknown == nil {
		return nil
	}
	return a.unknown.flush()
}

// Flush returns every app aggregate as a sighting, sorted for stable
// output, and empties them. Unknown-domain counts stay: see FlushAll.
func (a *Aggregator) Flush() []api.Sighting {
	out := make([]api.Sighting, 0, len(a.m))
	for k, c := range a.m {
		out = append(out, api.Sighting{
			App:       k.app.ID,
			Domain:    k.domain,
			Tenant:    k.tenant,
			Source:    k.source.String(),
			User:      k.user,
			Day:       dayString(k.day),
			Count:     c.count,
			FirstSeen: c.first,
			LastSeen:  c.last,
		})
	}
	clear(a.m)
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		switch {
		case x.Day != y.Day:
			return x.Day < y.Day
		case x.App != y.App:
			return x.App < y.App
		case x.Domain != y.Domain:
			return x.Domain < y.Domain
		case x.Tenant != y.Tenant:
			return x.Tenant < y.Tenant
		case x.User != y.User:
			return x.User < y.User
		}
		return x.Source < y.Source
	})
	return out
}
