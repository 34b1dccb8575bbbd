package agent

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/signatures"
)

// TestUploadPerDay simulates a typical user's day (2,000 lookups across 40
// apps, spread over working hours, flushed every 5 minutes) and checks
// that what the agent uploads stays under 100 KB.
func TestUploadPerDay(t *testing.T) {
	c, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range c.Apps {
		for _, d := range a.Domains {
			if d.Role.CountsAsUse() && !d.Exact {
				names = append(names, "app."+d.Name)
				break
			}
		}
		if len(names) == 40 {
			break
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	// 2,000 lookups between 08:00 and 18:00.
	at := make([]time.Time, 2000)
	for i := range at {
		at[i] = day.Add(8*time.Hour + time.Duration(rng.Int64N(int64(10*time.Hour))))
	}
	agg := aggregate.New(c)
	var total int
	batches := 0
	flush := func() {
		s := agg.Flush()
		if len(s) == 0 {
			return
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		json.NewEncoder(zw).Encode(api.SightingsBatch{BatchID: "1732521600-0123456789abcdef", AgentVersion: "1.0.0", Sightings: s})
		zw.Close()
		total += buf.Len()
		batches++
	}
	for slot := day; slot.Before(day.Add(24 * time.Hour)); slot = slot.Add(5 * time.Minute) {
		for i, ts := range at {
			if !ts.Before(slot) && ts.Before(slot.Add(5*time.Minute)) {
				agg.Observe(names[i%len(names)], aggregate.SourceDNS, "ann", ts)
			}
		}
		flush()
	}
	t.Logf("a typical day: %d batches, %d bytes uploaded (gzip JSON)", batches, total)
	if total > 100<<10 {
		t.Errorf("a typical day uploads %d bytes, over the 100 KB budget", total)
	}
	if batches == 0 {
		t.Fatal("nothing was uploaded")
	}
}
