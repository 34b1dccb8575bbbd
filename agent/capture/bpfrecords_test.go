package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// bpfRecord is one record to put in a constructed BPF read buffer.
type bpfRecord struct {
	ts      time.Time
	data    []byte
	hdrLen  int // 0 means 18
	wireLen int // 0 means len(data)
}

// appendBPFRecord appends r as macOS lays it out, padded to the next
// record when pad is set.
func appendBPFRecord(buf []byte, r bpfRecord, pad bool) []byte {
	hdrLen := r.hdrLen
	if hdrLen == 0 {
		hdrLen = bpfHdrMinLen
	}
	wireLen := r.wireLen
	if wireLen == 0 {
		wireLen = len(r.data)
	}
	h := make([]byte, hdrLen)
	binary.NativeEndian.PutUint32(h[0:], uint32(r.ts.Unix()))
	binary.NativeEndian.PutUint32(h[4:], uint32(r.ts.Nanosecond()/1000))
	binary.NativeEndian.PutUint32(h[8:], uint32(len(r.data)))
	binary.NativeEndian.PutUint32(h[12:], uint32(wireLen))
	binary.NativeEndian.PutUint16(h[16:], uint16(hdrLen))
	buf = append(append(buf, h...), r.data...)
	if pad {
		buf = append(buf, make([]byte, bpfWordAlign(hdrLen+len(r.data))-hdrLen-len(r.data))...)
	}
	return buf
}

func bpfBuffer(records ...bpfRecord) []byte {
	var buf []byte
	for i, r := range records {
		buf = appendBPFRecord(buf, r, i < len(records)-1)
	}
	return buf
}

func TestBPFRecords(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 123456000, time.UTC)
	t1 := t0.Add(1500 * time.Microsecond)
	odd := []byte{1, 2, 3, 4, 5}
	eth := []byte("fourteen bytes")
	withHeader := func(hdrLen int) []byte {
		b := bpfBuffer(bpfRecord{ts: t0, data: odd})
		binary.NativeEndian.PutUint16(b[16:], uint16(hdrLen))
		return b
	}
	tests := []struct {
		name    string
		buf     []byte
		want    [][]byte
		wantTS  []time.Time
		wantErr bool
	}{
		{"empty", nil, nil, nil, false},
		{"one record", bpfBuffer(bpfRecord{ts: t0, data: odd}), [][]byte{odd}, []time.Time{t0}, false},
		{"padded records and aligned headers", bpfBuffer(
			bpfRecord{ts: t0, data: odd},
			bpfRecord{ts: t1, data: eth, hdrLen: 18},
			bpfRecord{ts: t1, data: odd, hdrLen: 20, wireLen: 1500},
		), [][]byte{odd, eth, odd}, []time.Time{t0, t1, t1}, false},
		{"last record padded", appendBPFRecord(nil, bpfRecord{ts: t0, data: odd}, true), [][]byte{odd}, []time.Time{t0}, false},
		{"empty packet", bpfBuffer(bpfRecord{ts: t0, data: []byte{}}, bpfRecord{ts: t1, data: odd}), [][]byte{{}, odd}, []time.Time{t0, t1}, false},
		{"record then trailing bytes", append(appendBPFRecord(nil, bpfRecord{ts: t0, data: odd}, true), 1, 2, 3),
			[][]byte{odd}, []time.Time{t0}, true},
		{"truncated header", bpfBuffer(bpfRecord{ts: t0, data: odd})[:10], nil, nil, true},
		{"capture length past the end", bpfBuffer(bpfRecord{ts: t0, data: odd})[:20], nil, nil, true},
		{"header length too small", withHeader(4), nil, nil, true},
		{"header length past the end", withHeader(0xffff), nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r bpfRecords
			r.reset(tt.buf)
			var got [][]byte
			var gotTS []time.Time
			var gotErr error
			for {
				data, ts, ok, err := r.next()
				if err != nil {
					gotErr = err
					if !errors.Is(err, errBadRecord) {
						t.Errorf("error %v does not wrap errBadRecord", err)
					}
					continue
				}
				if !ok {
					break
				}
				got = append(got, data)
				gotTS = append(gotTS, ts)
			}
			if (gotErr != nil) != tt.wantErr {
				t.Errorf("error = %v, want error %v", gotErr, tt.wantErr)
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("records = %q, want %q", got, tt.want)
			}
			if !slices.EqualFunc(gotTS, tt.wantTS, time.Time.Equal) {
				t.Errorf("times = %v, want %v", gotTS, tt.wantTS)
			}
		})
	}
}

func TestBPFLinkType(t *testing.T) {
	tests := []struct {
		dlt  uint32
		want layers.LinkType
		ok   bool
	}{
		{dltNull, layers.LinkTypeNull, true},
		{dltEN10MB, layers.LinkTypeEthernet, true},
		{dltRaw, layers.LinkTypeRaw, true},
		{127, 0, false}, // DLT_IEEE802_11_RADIO
		{9, 0, false},   // DLT_PPP
	}
	for _, tt := range tests {
		got, ok := bpfLinkType(tt.dlt)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bpfLinkType(%d) = %v, %v; want %v, %v", tt.dlt, got, ok, tt.want, tt.ok)
		}
		if ok {
			if _, ok := linkFilterConfig(got, defaultSnapLen); !ok {
				t.Errorf("no capture filter for DLT %d", tt.dlt)
			}
		}
	}
}

// fakeBPFDevice returns one prepared buffer per read, then timeouts.
type fakeBPFDevice struct {
	mu      sync.Mutex
	buffers [][]byte
	drops   uint64
}

func (d *fakeBPFDevice) read(buf []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.buffers) == 0 {
		time.Sleep(time.Millisecond)
		return 0, nil
	}
	next := d.buffers[0]
	if len(next) > len(buf) {
		return 0, fmt.Errorf("fake read of %d bytes into %d", len(next), len(buf))
	}
	d.buffers = d.buffers[1:]
	return copy(buf, next), nil
}

func (d *fakeBPFDevice) dropped() (uint64, error) { return d.drops, nil }
func (d *fakeBPFDevice) close() error             { return nil }

// TestBPFReaderLinkTypes runs the macOS read path short of the system calls:
// BPF buffers of Ethernet (en0) and NULL (utun) frames through the
// supervisor and the decoder.
func TestBPFReaderLinkTypes(t *testing.T) {
	query := func(id uint16, name string, v6 bool) []byte {
		return udpPacket(t, flow{ipv6: v6, srcPort: 40000, dstPort: 53}, dnsQuery(t, id, name))
	}
	devices := map[string]*fakeBPFDevice{
		"en0": {drops: 2, buffers: [][]byte{
			bpfBuffer(
				bpfRecord{ts: epoch, data: frame(t, layers.LinkTypeEthernet, query(1, "en0-a.example.com", false))},
				bpfRecord{ts: epoch, data: frame(t, layers.LinkTypeEthernet, query(2, "en0-b.example.com", true))},
			),
			{1, 2, 3}, // garbage: one bad record, then reading goes on
			bpfBuffer(bpfRecord{ts: epoch, data: frame(t, layers.LinkTypeEthernet, query(3, "en0-c.example.com", false))}),
		}},
		"utun4": {buffers: [][]byte{
			bpfBuffer(bpfRecord{ts: epoch, data: frame(t, layers.LinkTypeNull, query(4, "utun-a.example.com", true))}),
		}},
		"lo0": {buffers: [][]byte{
			bpfBuffer(bpfRecord{ts: epoch, data: frame(t, layers.LinkTypeRaw, query(5, "raw-a.example.com", false))}),
		}},
	}
	links := map[string]layers.LinkType{"en0": layers.LinkTypeEthernet, "utun4": layers.LinkTypeNull, "lo0": layers.LinkTypeRaw}
	var keys []liveKey
	for i, name := range []string{"en0", "utun4", "lo0"} {
		keys = append(keys, liveKey{name, i + 1})
	}
	var got []string
	o := LiveOptions{Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	s := newLiveSupervisor(o,
		func() ([]liveKey, error) { return keys, nil },
		func(k liveKey) (packetReader, error) { return newBPFReader(devices[k.name], links[k.name], 4096), nil },
		func(o Observation) { got = append(got, o.Name) })
	if err := s.reconcile(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all names", func() bool { return s.status().Stats.Names == 5 })
	s.stopAll()
	st := s.totals()
	if st.Packets != 5 || st.Dropped != 2 || st.Errors.Link != 1 {
		t.Errorf("stats = %+v, want 5 packets, 2 drops, 1 link error", st)
	}
	slices.Sort(got)
	want := []string{"en0-a.example.com", "en0-b.example.com", "en0-c.example.com", "raw-a.example.com", "utun-a.example.com"}
	if !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
}

func FuzzBPFRecords(f *testing.F) {
	for _, seed := range bpfRecordSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		var r bpfRecords
		r.reset(buf)
		for i := 0; ; i++ {
			if i > len(buf) {
				t.Fatal("more records than bytes")
			}
			start := r.off
			data, _, ok, err := r.next()
			if err != nil {
				if !errors.Is(err, errBadRecord) {
					t.Fatalf("error %v does not wrap errBadRecord", err)
				}
				continue
			}
			if !ok {
				break
			}
			// The record, header included, lies inside buf and the walk
			// moves past it.
			if start+bpfHdrMinLen+len(data) > len(buf) || r.off < start+bpfHdrMinLen+len(data) {
				t.Fatalf("record of %d bytes at %d, next at %d, in %d bytes", len(data), start, r.off, len(buf))
			}
		}
	})
}

func bpfRecordSeeds(tb testing.TB) [][]byte {
	q := udpPacket(tb, flow{srcPort: 40000, dstPort: 53}, dnsQuery(tb, 1, "customer.zendesk.com"))
	return [][]byte{
		bpfBuffer(bpfRecord{ts: epoch, data: frame(tb, layers.LinkTypeEthernet, q)}),
		bpfBuffer(
			bpfRecord{ts: epoch, data: frame(tb, layers.LinkTypeNull, q)},
			bpfRecord{ts: epoch, data: q, hdrLen: 20},
		),
		bpfBuffer(bpfRecord{ts: epoch, data: q})[:30],
		{},
	}
}

// TestWriteBPFRecordSeeds rewrites testdata/fuzz/FuzzBPFRecords with
// -update.
func TestWriteBPFRecordSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	writeSeeds(t, "FuzzBPFRecords", bpfRecordSeeds(t))
}

// writeSeeds writes one []byte seed per file under testdata/fuzz/target.
func writeSeeds(t *testing.T, target string, seeds [][]byte) {
	t.Helper()
	for i, s := range seeds {
		golden.WriteFuzzSeed(t, target, fmt.Sprintf("seed-%02d", i), s)
	}
}

// BenchmarkBPFRecords walks a buffer of 64 DNS queries in Ethernet frames,
// as a busy macOS read returns them.
func BenchmarkBPFRecords(b *testing.B) {
	q := frame(b, layers.LinkTypeEthernet, udpPacket(b, flow{srcPort: 40000, dstPort: 53}, dnsQuery(b, 1, "customer.zendesk.com")))
	var records []bpfRecord
	for range 64 {
		records = append(records, bpfRecord{ts: epoch, data: q})
	}
	buf := bpfBuffer(records...)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var r bpfRecords
	for b.Loop() {
		r.reset(buf)
		for {
			_, _, ok, err := r.next()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
		}
	}
}
