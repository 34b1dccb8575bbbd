package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// TestUnknownDomainCountsIdempotent checks what the store interface does
// not show: the stored lookup counts add up across batches and a replayed
// batch leaves them alone.
func TestUnknownDomainCountsIdempotent(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	ctx := context.Background()
	mustDevice(t, s, "dev-1")
	day := day0.Format(time.DateOnly)
	batch := func(id string, count int64) collector.Batch {
		return collector.Batch{DeviceID: "dev-1", BatchID: id, ReceivedAt: day0,
			UnknownDomains: []collector.UnknownDomainCount{{Domain: "tinyshop.com", Day: day, Count: count}}}
	}
	for _, b := range []collector.Batch{batch("b-1", 3), batch("b-2", 4), batch("b-1", 100)} {
		if _, err := s.IngestBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	var count int64
	if err := s.readDB.QueryRowContext(ctx, "SELECT count FROM unknown_domains WHERE day = ? AND domain = ? AND device_id = ?",
		day, "tinyshop.com", "dev-1").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 7 {
		t.Errorf("stored count %d, want 3+4 (the replayed b-1 adds nothing)", count)
	}
}
