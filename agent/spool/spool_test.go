package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testOptions() Options {
	return Options{Now: func() time.Time { return testNow }}
}

func openT(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testBatch is a batch with one sighting per app on day.
func testBatch(id, day string, apps ...string) api.SightingsBatch {
	b := api.SightingsBatch{BatchID: id, AgentVersion: "test"}
	for i, app := range apps {
		first, _ := time.Parse(time.DateOnly, day)
		first = first.Add(time.Duration(i+1) * time.Hour)
		b.Sightings = append(b.Sightings, api.Sighting{
			App: app, Domain: app + ".com", Source: "dns", User: "ana", Day: day,
			Count: 1, FirstSeen: first, LastSeen: first.Add(time.Minute),
		})
	}
	return b
}

func mustPut(t testing.TB, s *Spool, b api.SightingsBatch) {
	t.Helper()
	if err := s.Put(b); err != nil {
		t.Fatalf("Put(%s): %v", b.BatchID, err)
	}
}

// drain returns every pending batch, acknowledging each.
func drain(t testing.TB, s *Spool) []api.SightingsBatch {
	t.Helper()
	var out []api.SightingsBatch
	for {
		b, ok, err := s.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if !ok {
			return out
		}
		out = append(out, b)
		if err := s.Ack(b.BatchID); err != nil {
			t.Fatalf("Ack(%s): %v", b.BatchID, err)
		}
	}
}

func ids(batches []api.SightingsBatch) []string {
	out := make([]string, len(batches))
	for i, b := range batches {
		out[i] = b.BatchID
	}
	return out
}

func TestPutNextAckAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, testOptions())
	for i := range 5 {
		mustPut(t, s, testBatch(fmt.Sprintf("b%d", i), "2026-11-24", "slack", "notion"))
	}
	b, ok, err := s.Next()
	if err != nil || !ok || b.BatchID != "b0" {
		t.Fatalf("Next = %q, %v, %v; want b0", b.BatchID, ok, err)
	}
	if len(b.Sightings) != 2 || b.Sightings[1].App != "notion" || !b.Sightings[0].FirstSeen.Equal(testBatch("x", "2026-11-24", "a").Sightings[0].FirstSeen) {
		t.Fatalf("batch did not round-trip: %+v", b)
	}
	// Acks may come out of order.
	for _, id := range []string{"b0", "b2"} {
		if err := s.Ack(id); err != nil {
			t.Fatalf("Ack(%s): %v", id, err)
		}
	}
	// Next without Ack returns the same batch again.
	for range 2 {
		if b, _, _ := s.Next(); b.BatchID != "b1" {
			t.Fatalf("Next = %q, want b1", b.BatchID)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, testOptions())
	if st := s.Stats(); st.Batches != 3 || st.Corrupt != 0 || st.TornBytes != 0 {
		t.Fatalf("Stats after reopen = %+v, want 3 pending and nothing bad", st)
	}
	if got, want := ids(drain(t, s)), []string{"b1", "b3", "b4"}; !slices.Equal(got, want) {
		t.Fatalf("after reopen got %v, want %v", got, want)
	}
	s.Close()
	s = openT(t, dir, testOptions())
	if got := drain(t, s); len(got) != 0 {
		t.Fatalf("acknowledged batches came back: %v", ids(got))
	}
}

func TestPutErrors(t *testing.T) {
	s := openT(t, t.TempDir(), Options{MaxBytes: 8 << 10, Now: testOptions().Now})
	mustPut(t, s, testBatch("a", "2026-11-24", "slack"))
	big := testBatch("big", "2026-11-24")
	for i := range 200 {
		big.Sightings = append(big.Sightings, testBatch("x", "2026-11-24", fmt.Sprintf("app%d", i)).Sightings...)
	}
	tests := []struct {
		name    string
		batch   api.SightingsBatch
		wantErr error
	}{
		{"no id", testBatch("", "2026-11-24", "slack"), ErrNoBatchID},
		{"larger than half the spool", big, ErrBatchTooLarge},
		{"same id again is a no-op", testBatch("a", "2026-11-24", "other"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(tt.batch); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Put = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if err := s.Ack("nope"); !errors.Is(err, ErrUnknownBatch) {
		t.Fatalf("Ack(unknown) = %v, want ErrUnknownBatch", err)
	}
	got := drain(t, s)
	if len(got) != 1 || got[0].Sightings[0].App != "slack" {
		t.Fatalf("got %+v, want only the first batch a", got)
	}
	if err := s.Ack("a"); !errors.Is(err, ErrUnknownBatch) {
		t.Fatalf("second Ack = %v, want ErrUnknownBatch", err)
	}
	s.Close()
	if err := s.Put(testBatch("late", "2026-11-24", "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v, want ErrClosed", err)
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := openT(t, dir, testOptions())
	mustPut(t, s, testBatch("a", "2026-11-24", "slack"))
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode %o, want 700", perm)
	}
	for _, name := range segmentFiles(t, dir) {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %o, want 600", name, perm)
		}
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestReclaimDeletesAcknowledgedSegments(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{SegmentBytes: minSegmentBytes, Now: testOptions().Now})
	for i := range 100 {
		mustPut(t, s, testBatch(fmt.Sprintf("b%03d", i), "2026-11-24", "slack", "notion", "figma"))
	}
	if st := s.Stats(); st.Segments < 5 {
		t.Fatalf("Segments = %d, want several", st.Segments)
	}
	got := drain(t, s)
	if len(got) != 100 {
		t.Fatalf("drained %d batches, want 100", len(got))
	}
	st := s.Stats()
	if st.Segments != 1 || st.Batches != 0 || st.Bytes != 0 || st.DiskBytes > minSegmentBytes*2 {
		t.Fatalf("after acking all, Stats = %+v; want one small segment", st)
	}
	if files := segmentFiles(t, dir); len(files) != 1 {
		t.Fatalf("files left: %v", files)
	}
	s.Close()
	s = openT(t, dir, testOptions())
	if got := drain(t, s); len(got) != 0 {
		t.Fatalf("acknowledged batches came back: %v", ids(got))
	}
}

// lastSegment is the path of the newest file in dir.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	files := segmentFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("no segment files")
	}
	slices.Sort(files)
	return filepath.Join(dir, files[len(files)-1])
}

func TestTornWriteRecovery(t *testing.T) {
	// Three batches; the last record is damaged the ways an interrupted
	// write leaves it.
	tests := []struct {
		name   string
		damage func(data []byte, lastRec int) []byte
	}{
		{"header cut", func(d []byte, r int) []byte { return d[:r+3] }},
		{"body cut", func(d []byte, r int) []byte { return d[:r+headerSize+10] }},
		{"last byte missing", func(d []byte, r int) []byte { return d[:len(d)-1] }},
		{"last byte garbled", func(d []byte, r int) []byte { d[len(d)-1] ^= 0xff; return d }},
		{"zero-filled tail", func(d []byte, r int) []byte { clear(d[r:]); return d }},
		{"length garbled", func(d []byte, r int) []byte { d[r+3] = 0xff; return d }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, testOptions())
			for _, id := range []string{"a", "b"} {
				mustPut(t, s, testBatch(id, "2026-11-24", "slack"))
			}
			path := lastSegment(t, dir)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			lastRec := int(info.Size())
			mustPut(t, s, testBatch("c", "2026-11-24", "notion"))
			s.Close()

			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(data, lastRec), 0o600); err != nil {
				t.Fatal(err)
			}
			s = openT(t, dir, testOptions())
			st := s.Stats()
			if st.TornBytes == 0 || st.Corrupt != 0 || st.Batches != 2 {
				t.Fatalf("Stats = %+v, want torn bytes, no corruption, 2 batches", st)
			}
			if info, _ := os.Stat(path); info.Size() != int64(lastRec) {
				t.Fatalf("file is %d bytes, want truncated to %d", info.Size(), lastRec)
			}
			// The spool goes on working after the repair.
			mustPut(t, s, testBatch("d", "2026-11-24", "figma"))
			s.Close()
			s = openT(t, dir, testOptions())
			if got, want := ids(drain(t, s)), []string{"a", "b", "d"}; !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestCorruptionInTheMiddle(t *testing.T) {
	tests := []struct {
		name string
		// damage corrupts the file holding records; recs are their offsets.
		damage      func(data []byte, recs []int) []byte
		wantIDs     []string
		wantCorrupt int64
	}{
		{"body byte flipped", func(d []byte, r []int) []byte { d[r[2]+headerSize+5] ^= 1; return d }, []string{"a", "c", "d"}, 1},
		{"checksum flipped", func(d []byte, r []int) []byte { d[r[1]+4] ^= 1; return d }, []string{"b", "c", "d"}, 1},
		{"two records", func(d []byte, r []int) []byte { d[r[1]+20] ^= 1; d[r[3]+20] ^= 1; return d }, []string{"b", "d"}, 2},
		{"unknown kind", func(d []byte, r []int) []byte { d[r[2]+headerSize] = 9; fixCRC(d[r[2]:r[3]]); return d }, []string{"a", "c", "d"}, 1},
		{"valid checksum, bad JSON", func(d []byte, r []int) []byte { d[r[2]+headerSize+1] = '['; fixCRC(d[r[2]:r[3]]); return d }, []string{"a", "c", "d"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, testOptions())
			for _, id := range []string{"a", "b", "c", "d"} {
				mustPut(t, s, testBatch(id, "2026-11-24", "slack"))
			}
			path := lastSegment(t, dir)
			s.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Records: meta, a, b, c, d.
			if err := os.WriteFile(path, tt.damage(data, recordOffsets(t, data)), 0o600); err != nil {
				t.Fatal(err)
			}
			s = openT(t, dir, testOptions())
			if st := s.Stats(); st.Corrupt != tt.wantCorrupt || st.TornBytes != 0 {
				t.Fatalf("Stats = %+v, want %d corrupt, nothing torn", st, tt.wantCorrupt)
			}
			if got := ids(drain(t, s)); !slices.Equal(got, tt.wantIDs) {
				t.Fatalf("got %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

// recordOffsets lists where each record of a clean file starts, and ends
// with the file size.
func recordOffsets(t testing.TB, data []byte) []int {
	t.Helper()
	var offs []int
	off := 0
	for off < len(data) {
		_, n, err := parseRecord(data[off:])
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		offs = append(offs, off)
		off += n
	}
	return append(offs, off)
}

// fixCRC rewrites the checksum of the record rec after an edit.
func fixCRC(rec []byte) {
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[headerSize:], castagnoli))
}

func TestCorruptLengthInOlderSegmentSkipsItsRest(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{SegmentBytes: minSegmentBytes, Now: testOptions().Now})
	var put []string
	for i := 0; len(segmentFiles(t, dir)) < 3; i++ {
		id := fmt.Sprintf("b%03d", i)
		mustPut(t, s, testBatch(id, "2026-11-24", "slack", "notion"))
		put = append(put, id)
	}
	s.Close()
	files := segmentFiles(t, dir)
	slices.Sort(files)
	first := filepath.Join(dir, files[0])
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, data)
	// Records of the first file: meta, then puts; garble the third put's length.
	binary.LittleEndian.PutUint32(data[offs[3]:], 1<<30)
	if err := os.WriteFile(first, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lost := len(offs) - 1 - 3 // puts from the garbled one to the end of the file
	s = openT(t, dir, testOptions())
	if st := s.Stats(); st.Corrupt != 1 || st.TornBytes != 0 {
		t.Fatalf("Stats = %+v, want 1 corrupt", st)
	}
	got := ids(drain(t, s))
	want := slices.Concat(put[:2], put[2+lost:])
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCorruptionAfterOpenIsSkippedByNext(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, testOptions())
	for _, id := range []string{"a", "b", "c"} {
		mustPut(t, s, testBatch(id, "2026-11-24", "slack"))
	}
	path := lastSegment(t, dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, data)
	data[offs[1]+headerSize+3] ^= 1 // batch a
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(drain(t, s)), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if st := s.Stats(); st.Corrupt != 1 {
		t.Fatalf("Corrupt = %d, want 1", st.Corrupt)
	}
}

func TestOpenCleansInterruptedSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, testOptions())
	mustPut(t, s, testBatch("a", "2026-11-24", "slack"))
	s.Close()
	// A snapshot that never got renamed is ignored and removed.
	tmp := filepath.Join(dir, fileName(99, true)+tmpSuffix)
	if err := os.WriteFile(tmp, []byte("half a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file older than a snapshot is superseded by it.
	snap := filepath.Join(dir, fileName(5, true))
	var rec []byte
	rec = appendRecord(rec, []byte("\x03{\"folded_batches\":7}"))
	body := append([]byte{kindPut}, []byte(`{"batch_id":"s1","agent_version":"t","sightings":[]}`)...)
	rec = appendRecord(rec, body)
	if err := os.WriteFile(snap, rec, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, testOptions())
	if got := segmentFiles(t, dir); !slices.Equal(got, []string{fileName(5, true)}) {
		t.Fatalf("files = %v, want only the snapshot", got)
	}
	if st := s.Stats(); st.FoldedBatches != 7 {
		t.Fatalf("FoldedBatches = %d, want 7 from the snapshot's counters", st.FoldedBatches)
	}
	if got := ids(drain(t, s)); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("got %v, want [s1]", got)
	}
}

func TestFileNames(t *testing.T) {
	tests := []struct {
		name     string
		num      uint64
		snap, ok bool
	}{
		{"0000000000000001.seg", 1, false, true},
		{"00000000000000ff.snap", 255, true, true},
		{"00000000000000ff.snap.tmp", 0, false, false},
		{"1.seg", 0, false, false},
		{"zzzzzzzzzzzzzzzz.seg", 0, false, false},
		{"notes.txt", 0, false, false},
	}
	for _, tt := range tests {
		num, snap, ok := parseFileName(tt.name)
		if num != tt.num || snap != tt.snap || ok != tt.ok {
			t.Errorf("parseFileName(%q) = %d, %v, %v; want %d, %v, %v", tt.name, num, snap, ok, tt.num, tt.snap, tt.ok)
		}
		if tt.ok && fileName(tt.num, tt.snap) != tt.name {
			t.Errorf("fileName(%d, %v) = %q", tt.num, tt.snap, fileName(tt.num, tt.snap))
		}
	}
}

// TestFailedWriteLeavesTheSpoolUsable stands in for a full disk: the
// segment handle refuses writes (and the truncate that would undo them).
func TestFailedWriteLeavesTheSpoolUsable(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, testOptions())
	mustPut(t, s, testBatch("a", "2026-11-24", "slack"))
	readOnly, err := os.Open(lastSegment(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	s.active.Close()
	s.active = readOnly
	if err := s.Put(testBatch("b", "2026-11-24", "slack")); err == nil {
		t.Fatal("Put on a failing file succeeded")
	}
	// The failed write could not be undone on that handle, so the next
	// append starts a new segment and works.
	mustPut(t, s, testBatch("c", "2026-11-24", "slack"))
	if st := s.Stats(); st.Segments != 2 || st.Batches != 2 {
		t.Fatalf("Stats = %+v, want a, c in two segments", st)
	}
	if got, want := ids(drain(t, s)), []string{"a", "c"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	s.Close()
	s = openT(t, dir, testOptions())
	if st := s.Stats(); st.Batches != 0 || st.Corrupt != 0 {
		t.Fatalf("after reopen Stats = %+v, want nothing pending or corrupt", st)
	}
}
