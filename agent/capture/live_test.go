package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// fakeReader is a packetReader fed by a test through a channel.
type fakeReader struct {
	packets chan []byte
	drops   uint64
	mu      sync.Mutex
	closed  bool
}

func newFakeReader(drops uint64) *fakeReader {
	return &fakeReader{packets: make(chan []byte, 16), drops: drops}
}

func (f *fakeReader) linkType() layers.LinkType { return layers.LinkTypeRaw }

func (f *fakeReader) readPacket() ([]byte, time.Time, error) {
	select {
	case p, ok := <-f.packets:
		if !ok {
			return nil, time.Time{}, errors.New("device gone")
		}
		if p == nil {
			return nil, time.Time{}, fmt.Errorf("buffer: %w", errBadRecord)
		}
		return p, epoch, nil
	case <-time.After(5 * time.Millisecond):
		return nil, time.Time{}, errReadTimeout
	}
}

func (f *fakeReader) dropped() (uint64, error) { return f.drops, nil }

func (f *fakeReader) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeReader) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// waitFor polls cond; the limit only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestLiveSupervisorStatus(t *testing.T) {
	readers := map[string]*fakeReader{
		"en0":   newFakeReader(3),
		"utun4": newFakeReader(1),
	}
	var (
		mu   sync.Mutex
		keys = []liveKey{{"en0", 4}, {"utun4", 9}, {"ap1", 12}}
		got  []string
	)
	wanted := func() ([]liveKey, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(keys), nil
	}
	open := func(k liveKey) (packetReader, error) {
		if k.name == "ap1" {
			return nil, fmt.Errorf("open %s: %w", k.name, errLinkUnsupported)
		}
		return readers[k.name], nil
	}
	emit := func(o Observation) { got = append(got, o.Name) }
	o := LiveOptions{Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	s := newLiveSupervisor(o, wanted, open, emit)
	ctx := t.Context()
	if err := s.reconcile(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !s.unsupported[liveKey{"ap1", 12}] {
		t.Error("ap1 is not marked unsupported")
	}
	st := s.status()
	if want := []string{"en0", "utun4"}; !slices.Equal(st.Interfaces, want) {
		t.Errorf("interfaces = %v, want %v", st.Interfaces, want)
	}

	readers["en0"].packets <- udpPacket(t, flow{srcPort: 40000, dstPort: 53}, dnsQuery(t, 1, "a.example.com"))
	readers["en0"].packets <- nil // a malformed record
	readers["utun4"].packets <- udpPacket(t, flow{srcPort: 40000, dstPort: 53}, dnsQuery(t, 2, "b.example.com"))
	// Counters are published when a read times out, so they arrive.
	waitFor(t, "published counters", func() bool {
		st = s.status()
		return st.Stats.Names == 2 && st.Stats.Errors.Link == 1
	})
	if st.Stats.Packets != 2 || st.Stats.Dropped != 4 {
		t.Errorf("stats = %+v, want 2 packets and 4 drops", st.Stats)
	}

	// utun4 goes away: its counters stay in the totals, once.
	mu.Lock()
	keys = []liveKey{{"en0", 4}}
	mu.Unlock()
	if err := s.reconcile(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !readers["utun4"].isClosed() {
		t.Error("utun4 reader not closed")
	}
	st = s.status()
	if want := []string{"en0"}; !slices.Equal(st.Interfaces, want) {
		t.Errorf("interfaces = %v, want %v", st.Interfaces, want)
	}
	if st.Stats.Names != 2 || st.Stats.Dropped != 4 {
		t.Errorf("after utun4 left: stats = %+v, want 2 names and 4 drops", st.Stats)
	}

	// en0 fails: it leaves the interfaces before the next re-attach, and
	// its counters move to the totals without counting twice.
	close(readers["en0"].packets)
	waitFor(t, "en0 to end", func() bool { return len(s.status().Interfaces) == 0 })
	st = s.status()
	if st.Stats.Names != 2 || st.Stats.Dropped != 4 || st.Stats.Errors.Link != 1 {
		t.Errorf("after en0 ended: stats = %+v", st.Stats)
	}
	s.stopAll()
	if total := s.totals(); total != st.Stats {
		t.Errorf("totals %+v differ from the last status %+v", total, st.Stats)
	}
	slices.Sort(got)
	if want := []string{"a.example.com", "b.example.com"}; !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
}

func TestLiveSupervisorRun(t *testing.T) {
	r := newFakeReader(0)
	statuses := make(chan LiveStatus, 64)
	o := LiveOptions{
		Logger:         slog.New(slog.DiscardHandler),
		StatusInterval: 10 * time.Millisecond,
		OnStatus: func(st LiveStatus) {
			select {
			case statuses <- st:
			default:
			}
		},
	}.withDefaults()
	wanted := func() ([]liveKey, error) { return []liveKey{{}}, nil }
	open := func(liveKey) (packetReader, error) { return r, nil }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan Stats)
	go func() {
		stats, err := newLiveSupervisor(o, wanted, open, func(Observation) {}).run(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- stats
	}()
	r.packets <- udpPacket(t, flow{srcPort: 40000, dstPort: 53}, dnsQuery(t, 1, "a.example.com"))
	for st := range statuses {
		if !slices.Equal(st.Interfaces, []string{"any"}) {
			t.Fatalf("interfaces = %v, want [any]", st.Interfaces)
		}
		if st.Stats.Names == 1 {
			break
		}
	}
	cancel()
	if stats := <-done; stats.Names != 1 || stats.Packets != 1 {
		t.Errorf("final stats = %+v, want 1 packet and 1 name", stats)
	}
}

func TestLiveSupervisorNothingOpens(t *testing.T) {
	o := LiveOptions{Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	wanted := func() ([]liveKey, error) { return []liveKey{{"en0", 1}}, nil }
	open := func(liveKey) (packetReader, error) { return nil, errors.New("permission denied") }
	_, err := newLiveSupervisor(o, wanted, open, func(Observation) {}).run(t.Context())
	if err == nil {
		t.Fatal("run succeeded with no capture open")
	}
}
