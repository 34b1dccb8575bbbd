package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// benchFleet is a simulated fleet: devices, each with one person and a
// portfolio of apps it uses every day.
type benchFleet struct {
	apps      []string
	devices   []string
	people    []string
	portfolio [][]int // per device: indexes into apps
}

func newBenchFleet(apps, devices, appsPerDevice int) *benchFleet {
	f := &benchFleet{}
	for i := range apps {
		f.apps = append(f.apps, fmt.Sprintf("app-%04d", i))
	}
	for d := range devices {
		f.devices = append(f.devices, fmt.Sprintf("dev-%06d", d))
		f.people = append(f.people, fmt.Sprintf("person%06d@example.com", d))
		// A few apps everybody uses, the rest spread over the catalog
		// (deterministic, no randomness needed).
		p := make([]int, appsPerDevice)
		for i := range p {
			if i < 5 {
				p[i] = i
			} else {
				p[i] = (d*7919 + i*104729) % apps
			}
		}
		f.portfolio = append(f.portfolio, p)
	}
	return f
}

func (f *benchFleet) enroll(tb testing.TB, s *Store) {
	tb.Helper()
	for d, id := range f.devices {
		err := s.CreateDevice(context.Background(), collector.Device{ID: id, OwnerEmail: f.people[d]}, []byte("hash:"+id))
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func dedupeKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// batch builds upload number seq of device d: 50 sightings, dns and sni
// for 25 apps of its portfolio. All but fresh of them are the device's
// daily aggregates, which after its first upload of the day merge into
// existing rows; fresh are new keys (a new domain or tenant turning up).
func (f *benchFleet) batch(d, seq, fresh int, day time.Time) collector.Batch {
	b := collector.Batch{
		DeviceID: f.devices[d], BatchID: fmt.Sprintf("%s-%d", f.devices[d], seq), AgentVersion: "1.0.0",
		ReceivedAt: day.Add(12 * time.Hour), Evidence: make([]collector.Evidence, 0, 50),
	}
	dayStr := day.Format(time.DateOnly)
	for i := range 50 {
		app := f.apps[f.portfolio[d][i/2%len(f.portfolio[d])]]
		source := collector.SourceDNS
		if i%2 == 1 {
			source = collector.SourceSNI
		}
		domain := app + ".com"
		if i >= 50-fresh {
			domain = fmt.Sprintf("n%d.%s.com", seq, app)
		}
		b.Evidence = append(b.Evidence, collector.Evidence{
			AppID: app, Source: source, Person: f.people[d], DeviceID: f.devices[d], Day: dayStr,
			FirstSeen: day.Add(time.Duration(seq) * time.Millisecond), LastSeen: day.Add(time.Duration(seq+5) * time.Millisecond),
			Count: 3, Domain: domain,
			DedupeKey: dedupeKey("agent", f.devices[d], app, domain, "", f.people[d], dayStr, string(source)),
		})
	}
	return b
}

// BenchmarkIngestBatch measures IngestBatch of 50-row batches from 1,000
// devices that have each uploaded once already today.
//
//   - steady: 49 of the 50 rows merge into the device's rows of the day,
//     one is new. A laptop has 50 to 100 daily aggregates and uploads every
//     5 minutes, so this is most of a day.
//   - new-day: all 50 rows are new keys, as in the first upload after
//     midnight UTC.
//
// "parallel" has many callers at once, as the HTTP server does, so group
// commit applies; "serial" is one caller, one commit per batch. cpu-µs/op
// is the process's CPU time per batch, which a busy neighbour on a shared
// machine does not inflate the way it does ns/op. Allocations include
// building each batch.
func BenchmarkIngestBatch(b *testing.B) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		fresh    int
		parallel bool
	}{
		{"steady/serial", 1, false},
		{"steady/parallel", 1, true},
		{"new-day/parallel", 50, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), benchOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fleet := newBenchFleet(2000, 1000, 40)
			fleet.enroll(b, s)
			for d := range fleet.devices { // the day's first upload
				if _, err := s.IngestBatch(context.Background(), fleet.batch(d, -1-d, 0, day)); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			ingestOne := func() {
				n := int(next.Add(1))
				if _, err := s.IngestBatch(context.Background(), fleet.batch(n%len(fleet.devices), n, tc.fresh, day)); err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			if tc.parallel {
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						ingestOne()
					}
				})
			} else {
				for range b.N {
					ingestOne()
				}
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
			b.ReportMetric(float64(b.N*50)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// seedUsage fills a store with 2,000 apps and 20,000 people on 20,000
// devices, 30 apps each (600,000 evidence rows) in three tenants, and a
// year of monthly invoices per app.
func seedUsage(b *testing.B, s *Store) {
	b.Helper()
	ctx := context.Background()
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	fleet := newBenchFleet(2000, 20000, 30)
	fleet.enroll(b, s)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range 32 { // many callers, so group commit applies
		wg.Go(func() {
			for {
				d := int(next.Add(1)) - 1
				if d >= len(fleet.devices) {
					return
				}
				batch := collector.Batch{DeviceID: fleet.devices[d], BatchID: "seed", ReceivedAt: day}
				for _, a := range fleet.portfolio[d] {
					app := fleet.apps[a]
					batch.Evidence = append(batch.Evidence, collector.Evidence{
						AppID: app, Source: collector.SourceDNS, Person: fleet.people[d], DeviceID: fleet.devices[d],
						Day: day.Format(time.DateOnly), FirstSeen: day, LastSeen: day.Add(time.Hour), Count: 10,
						Domain: app + ".com", Tenant: fmt.Sprintf("t%d", d%3),
						DedupeKey: dedupeKey(fleet.devices[d], app),
					})
				}
				if _, err := s.IngestBatch(ctx, batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var invoices []collector.Evidence
	for i, app := range fleet.apps {
		for m := range 12 {
			when := day.AddDate(0, -m, 0)
			invoices = append(invoices, collector.Evidence{
				AppID: app, Source: collector.SourceInvoice, Day: when.Format(time.DateOnly), FirstSeen: when, LastSeen: when,
				Count: 1, AmountCents: int64(1000 + i), Currency: "USD", DedupeKey: fmt.Sprintf("invoice:%s:%d", app, m),
			})
		}
	}
	if _, err := s.AddEvidence(ctx, invoices); err != nil {
		b.Fatal(err)
	}
}

// benchOptions keeps the store's log lines out of the benchmark output.
func benchOptions() Options {
	return Options{Logger: slog.New(slog.DiscardHandler)}
}

// BenchmarkAppUsage measures the inventory query on 2,000 apps and 20,000
// people. Seeding takes a while; b.Loop runs it once.
func BenchmarkAppUsage(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedUsage(b, s)
	b.ReportAllocs()
	for b.Loop() {
		usage, err := s.AppUsage(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(usage) != 2000 {
			b.Fatalf("%d apps, want 2000", len(usage))
		}
	}
}

// BenchmarkPeopleUsage measures the people list on the same data.
func BenchmarkPeopleUsage(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedUsage(b, s)
	b.ReportAllocs()
	for b.Loop() {
		people, err := s.PeopleUsage(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(people) != 20000 {
			b.Fatalf("%d people, want 20000", len(people))
		}
	}
}
