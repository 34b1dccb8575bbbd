package spool

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
)

func at(hour int) time.Time { return time.Date(2026, 11, 24, hour, 0, 0, 0, time.UTC) }

func TestFolder(t *testing.T) {
	slack := func(user, day string, count int64, first, last int) api.Sighting {
		return api.Sighting{App: "slack", Domain: "slack.com", Tenant: "acme", Source: "dns", User: user, Day: day,
			Count: count, FirstSeen: at(first), LastSeen: at(last)}
	}
	tests := []struct {
		name    string
		batches [][]api.Sighting
		want    []api.Sighting
	}{
		{"empty", nil, nil},
		{
			"same key merges: counts summed, first and last widened",
			[][]api.Sighting{{slack("ana", "2026-11-24", 2, 5, 6)}, {slack("ana", "2026-11-24", 3, 3, 4)}, {slack("ana", "2026-11-24", 1, 7, 9)}},
			[]api.Sighting{slack("ana", "2026-11-24", 6, 3, 9)},
		},
		{
			"user and day keep sightings apart, oldest day first",
			[][]api.Sighting{{slack("ana", "2026-11-24", 1, 1, 1), slack("bo", "2026-11-24", 1, 1, 1)}, {slack("ana", "2026-11-23", 4, 1, 2)}},
			[]api.Sighting{slack("ana", "2026-11-23", 4, 1, 2), slack("ana", "2026-11-24", 1, 1, 1), slack("bo", "2026-11-24", 1, 1, 1)},
		},
		{
			"zero first seen does not win",
			[][]api.Sighting{{{App: "a", Day: "2026-11-24", Count: 1, LastSeen: at(2)}}, {{App: "a", Day: "2026-11-24", Count: 1, FirstSeen: at(1), LastSeen: at(1)}}},
			[]api.Sighting{{App: "a", Day: "2026-11-24", Count: 2, FirstSeen: at(1), LastSeen: at(2)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFolder()
			for _, s := range tt.batches {
				f.add(api.SightingsBatch{Sightings: s})
			}
			if got := f.sightings(); !slices.Equal(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDropOldestDay(t *testing.T) {
	in := []api.Sighting{{Day: "2026-11-01", Count: 3}, {Day: "2026-11-01", Count: 4}, {Day: "2026-11-02", Count: 5}}
	rest, n, count := dropOldestDay(in)
	if len(rest) != 1 || rest[0].Day != "2026-11-02" || n != 2 || count != 7 {
		t.Fatalf("dropOldestDay = %v, %d, %d", rest, n, count)
	}
	if rest, n, count := dropOldestDay(nil); rest != nil || n != 0 || count != 0 {
		t.Fatalf("dropOldestDay(nil) = %v, %d, %d", rest, n, count)
	}
}

func TestChunkSightingsRespectsBatchLimit(t *testing.T) {
	sightings := make([]api.Sighting, api.MaxSightings*2+1)
	next := 0
	newID := func() (string, error) { next++; return fmt.Sprintf("f%d", next), nil }
	batches, err := chunkSightings(sightings, "v1", newID)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 3 || len(batches[0].Sightings) != api.MaxSightings || len(batches[2].Sightings) != 1 || batches[2].BatchID != "f3" {
		t.Fatalf("got %d batches", len(batches))
	}
}

// totals sums counts per (app, day) over batches.
func totals(batches []api.SightingsBatch) map[string]int64 {
	out := make(map[string]int64)
	for _, b := range batches {
		for _, s := range b.Sightings {
			out[s.App+" "+s.Day] += s.Count
		}
	}
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func TestBoundedSpoolFoldsInsteadOfDropping(t *testing.T) {
	const maxBytes = 32 << 10
	dir := t.TempDir()
	s := openT(t, dir, Options{MaxBytes: maxBytes, SegmentBytes: minSegmentBytes, Now: testOptions().Now})
	// 400 batches over 4 days and 5 apps: far more than 32 KB of detail,
	// but only 20 daily counts.
	var put []api.SightingsBatch
	for i := range 400 {
		day := fmt.Sprintf("2026-11-%02d", 20+i%4)
		b := testBatch(fmt.Sprintf("b%03d", i), day, "slack", "notion", "figma", "miro", "zoom")
		put = append(put, b)
		mustPut(t, s, b)
		if st := s.Stats(); st.DiskBytes > maxBytes {
			t.Fatalf("after %d puts DiskBytes = %d > %d", i+1, st.DiskBytes, maxBytes)
		}
	}
	st := s.Stats()
	if st.FoldedBatches == 0 || st.DroppedSightings != 0 {
		t.Fatalf("Stats = %+v, want folding and no drops", st)
	}
	s.Close()
	// The folded state survives a restart, counters included.
	s = openT(t, dir, testOptions())
	if got := s.Stats(); got.FoldedBatches != st.FoldedBatches || got.Batches != st.Batches {
		t.Fatalf("after reopen Stats = %+v, want %+v", got, st)
	}
	got := drain(t, s)
	if want := totals(put); !mapsEqual(totals(got), want) {
		t.Fatalf("counts changed by folding:\ngot  %v\nwant %v", totals(got), want)
	}
	// Folded batches come first, the newest detail last, ids unique.
	if len(got) < 2 || got[len(got)-1].BatchID != "b399" {
		t.Fatalf("last batch = %s, want b399", got[len(got)-1].BatchID)
	}
	seen := map[string]bool{}
	for _, b := range got {
		if seen[b.BatchID] {
			t.Fatalf("batch id %s twice", b.BatchID)
		}
		seen[b.BatchID] = true
		if err := api.ValidateBatch(b, testNow); err != nil {
			t.Fatalf("batch %s would be refused: %v", b.BatchID, err)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBoundedSpoolDropsOldestDaysWhenFoldingIsNotEnough(t *testing.T) {
	const maxBytes = 16 << 10
	s := openT(t, t.TempDir(), Options{MaxBytes: maxBytes, Now: testOptions().Now})
	// Every batch brings new apps on a new day: folding cannot merge.
	var put []api.SightingsBatch
	for i := range 120 {
		day := testNow.AddDate(0, 0, -30+i/4).Format(time.DateOnly)
		b := testBatch(fmt.Sprintf("b%03d", i), day, fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i), fmt.Sprintf("c%d", i))
		put = append(put, b)
		mustPut(t, s, b)
		if st := s.Stats(); st.DiskBytes > maxBytes {
			t.Fatalf("after %d puts DiskBytes = %d > %d", i+1, st.DiskBytes, maxBytes)
		}
	}
	st := s.Stats()
	if st.DroppedSightings == 0 || st.DroppedCount == 0 {
		t.Fatalf("Stats = %+v, want drops", st)
	}
	got := drain(t, s)
	if kept, all := sum(totals(got)), sum(totals(put)); kept+st.DroppedCount != all {
		t.Fatalf("kept %d + dropped %d != put %d", kept, st.DroppedCount, all)
	}
	// What was dropped is the oldest: every kept day is newer than every dropped one.
	oldestKept := "9999"
	for _, b := range got {
		for _, x := range b.Sightings {
			oldestKept = min(oldestKept, x.Day)
		}
	}
	if oldestKept == put[0].Sightings[0].Day {
		t.Fatalf("the oldest day %s survived", oldestKept)
	}
}

func TestFoldDropsDaysTheCollectorWouldRefuse(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxBytes: 16 << 10, Now: testOptions().Now})
	old := testNow.Add(-api.MaxSightingAge - 48*time.Hour).Format(time.DateOnly)
	for i := range 60 {
		day := old
		if i >= 30 {
			day = testNow.Format(time.DateOnly)
		}
		mustPut(t, s, testBatch(fmt.Sprintf("b%02d", i), day, "slack", "notion", "figma"))
	}
	st := s.Stats()
	if st.FoldedBatches == 0 || st.DroppedSightings == 0 {
		t.Fatalf("Stats = %+v, want folding that drops the stale day", st)
	}
	for _, b := range drain(t, s) {
		for _, x := range b.Sightings {
			if x.Day == old {
				t.Fatalf("batch %s kept a sighting the collector would refuse", b.BatchID)
			}
		}
	}
}

func TestFoldNeverTakesTheBatchInFlight(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxBytes: 16 << 10, Now: testOptions().Now})
	mustPut(t, s, testBatch("first", "2026-11-24", "slack"))
	b, ok, err := s.Next()
	if err != nil || !ok || b.BatchID != "first" {
		t.Fatalf("Next = %q %v %v", b.BatchID, ok, err)
	}
	for i := range 100 {
		mustPut(t, s, testBatch(fmt.Sprintf("b%03d", i), "2026-11-24", "slack", "notion", "figma"))
	}
	if st := s.Stats(); st.FoldedBatches == 0 {
		t.Fatalf("Stats = %+v, want folding", st)
	}
	// The upload of "first" finishes after the fold: its ack still works.
	if err := s.Ack("first"); err != nil {
		t.Fatalf("Ack(first) after fold: %v", err)
	}
	for _, b := range drain(t, s) {
		if b.BatchID == "first" {
			t.Fatal("first came back after its ack")
		}
	}
}
