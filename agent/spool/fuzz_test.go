package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// validSegment is a segment as the spool writes it: meta, three puts, an ack.
func validSegment() []byte {
	var seg []byte
	seg = appendRecord(seg, []byte("\x03{\"folded_batches\":1}"))
	for i := range 3 {
		body := append([]byte{kindPut}, fmt.Sprintf(`{"batch_id":"b%d","agent_version":"t","sightings":[{"app":"slack","domain":"slack.com","source":"dns","day":"2026-11-24","count":2,"first_seen":"2026-11-24T01:00:00Z","last_seen":"2026-11-24T02:00:00Z"}]}`, i)...)
		seg = appendRecord(seg, body)
	}
	return appendRecord(seg, []byte("\x02b1"))
}

// FuzzRecover opens a spool over arbitrary segment bytes: it must not
// panic, must hand out only batches that decode, and must stay usable.
func FuzzRecover(f *testing.F) {
	valid := validSegment()
	f.Add(valid, false)
	f.Add(valid[:len(valid)-3], false)                 // torn tail
	f.Add(append(valid[:20:20], valid[40:]...), false) // hole in the middle
	f.Add([]byte{}, false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, true)
	f.Add(appendRecord(nil, []byte{kindPut, '{', '}'}), true)
	f.Add(appendRecord(nil, []byte{7}), false)
	f.Fuzz(func(t *testing.T, data []byte, snap bool) {
		dir := t.TempDir()
		name := fileName(1, snap)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		before := s.Stats()
		got := drain(t, s)
		if int64(len(got)) > before.Batches {
			t.Fatalf("drained %d batches, Stats said %d", len(got), before.Batches)
		}
		mustPut(t, s, testBatch("after", "2026-11-24", "slack"))
		s.Close()

		s, err = Open(dir, Options{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		again := drain(t, s)
		if len(again) != 1 || again[0].BatchID != "after" {
			t.Fatalf("after reopen got %v, want only the batch put after recovery", ids(again))
		}
	})
}
