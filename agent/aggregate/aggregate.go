// Package aggregate turns the names an agent sees into daily sightings of
// catalog apps, on the laptop: each name is matched against the signature
// catalog, unmatched names are dropped on the spot, and what matched is
// counted per (app, matched domain, tenant, OS user, source, day) with the
// first and last time seen. Only these aggregates ever leave the laptop.
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
	Unmatched uint64 // no app: dropped
}

// Aggregator counts app sightings. It is not safe for concurrent use: the
// capture loop owns it and hands its contents to the spool with Flush.
type Aggregator struct {
	catalog *signatures.Catalog
	m       map[key]*counts
	stats   Stats
}

// New returns an empty aggregator over catalog.
func New(catalog *signatures.Catalog) *Aggregator {
	return &Aggregator{catalog: catalog, m: make(map[key]*counts)}
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
		return
	case !m.CountsAsUse():
		// A CDN or widget host other sites load too, or the vendor's
		// public site: it says nothing about use on its own.
		a.stats.NotUse++
		return
	}
	a.stats.Matched++
	t = t.UTC()
	k := key{app: m.App, domain: m.Domain, tenant: m.Tenant, user: user, day: int32(t.Unix() / 86400), source: src}
	if t.Unix() < 0 {
		k.day = int32((t.Unix() - 86399) / 86400)
	}
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

// Stats returns the counters since the aggregator was made.
func (a *Aggregator) Stats() Stats { return a.stats }

// Len is the number of aggregates held.
func (a *Aggregator) Len() int { return len(a.m) }

// Flush returns every aggregate as a sighting, sorted for stable output,
// and empties the aggregator.
func (a *Aggregator) Flush() []api.Sighting {
	out := make([]api.Sighting, 0, len(a.m))
	for k, c := range a.m {
		out = append(out, api.Sighting{
			App:       k.app.ID,
			Domain:    k.domain,
			Tenant:    k.tenant,
			Source:    k.source.String(),
			User:      k.user,
			Day:       time.Unix(int64(k.day)*86400, 0).UTC().Format(time.DateOnly),
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
