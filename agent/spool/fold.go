package spool

import (
	"cmp"
	"slices"

	"github.com/shadowmap/shadowmap/collector/api"
)

// sightingKey is what folding merges on: one daily aggregate.
type sightingKey struct {
	app, domain, tenant, user, source, day string
}

// folder merges sightings by (app, domain, tenant, user, source, day):
// counts are summed, first and last seen widened. Folding keeps sightings
// only: the opt-in unknown-domain counts of folded batches are the first
// detail a full spool gives up. Batches are added one at
// a time so folding a full spool holds one batch and the daily counts in
// memory, not every batch.
type folder struct {
	index  map[sightingKey]int
	merged []api.Sighting
}

func newFolder() *folder {
	return &folder{index: make(map[sightingKey]int)}
}

func (f *folder) add(b api.SightingsBatch) {
	for _, s := range b.Sightings {
		k := sightingKey{s.App, s.Domain, s.Tenant, s.User, s.Source, s.Day}
		i, ok := f.index[k]
		if !ok {
			f.index[k] = len(f.merged)
			f.merged = append(f.merged, s)
			continue
		}
		m := &f.merged[i]
		m.Count += s.Count
		if !s.FirstSeen.IsZero() && (m.FirstSeen.IsZero() || s.FirstSeen.Before(m.FirstSeen)) {
			m.FirstSeen = s.FirstSeen
		}
		if s.LastSeen.After(m.LastSeen) {
			m.LastSeen = s.LastSeen
		}
	}
}

// sightings returns the merged sightings sorted by day, then key, so the
// oldest days come first.
func (f *folder) sightings() []api.Sighting {
	slices.SortFunc(f.merged, func(a, b api.Sighting) int {
		return cmp.Or(
			cmp.Compare(a.Day, b.Day),
			cmp.Compare(a.App, b.App),
			cmp.Compare(a.Domain, b.Domain),
			cmp.Compare(a.Tenant, b.Tenant),
			cmp.Compare(a.User, b.User),
			cmp.Compare(a.Source, b.Source),
		)
	})
	return f.merged
}

// dropOldestDay removes the sightings of the oldest day from sightings,
// which must be sorted by day. It returns the rest, how many sightings were
// removed and the sum of their counts.
func dropOldestDay(sightings []api.Sighting) (rest []api.Sighting, dropped, droppedCount int64) {
	if len(sightings) == 0 {
		return sightings, 0, 0
	}
	day := sightings[0].Day
	i := 0
	for i < len(sightings) && sightings[i].Day == day {
		droppedCount += sightings[i].Count
		i++
	}
	return sightings[i:], int64(i), droppedCount
}

// chunkSightings splits sightings into batches the collector accepts.
func chunkSightings(sightings []api.Sighting, agentVersion string, newID func() (string, error)) ([]api.SightingsBatch, error) {
	var out []api.SightingsBatch
	for len(sightings) > 0 {
		n := min(len(sightings), api.MaxSightings)
		id, err := newID()
		if err != nil {
			return nil, err
		}
		out = append(out, api.SightingsBatch{
			BatchID:      id,
			AgentVersion: agentVersion,
			Sightings:    slices.Clone(sightings[:n]),
		})
		sightings = sightings[n:]
	}
	return out, nil
}
