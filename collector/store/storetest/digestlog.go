package storetest

import (
	"context"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// testDigestLog: a failed attempt does not count as sent, a sent one does,
// weeks are apart, and bad input is refused.
func testDigestLog(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	to := []string{"it@example.com", "cio@example.com"}

	sent := func(week string, want bool) {
		t.Helper()
		got, err := s.DigestSent(ctx, week)
		must(t, err, "digest sent "+week)
		if got != want {
			t.Errorf("DigestSent(%s) = %v, want %v", week, got, want)
		}
	}
	sent("2026-W48", false)
	must(t, s.RecordDigestSend(ctx, "2026-W48", to, collector.DigestStatusFailed, "smtp: connection refused"), "record failed")
	sent("2026-W48", false)
	must(t, s.RecordDigestSend(ctx, "2026-W48", to, collector.DigestStatusSent, ""), "record sent")
	sent("2026-W48", true)
	sent("2026-W49", false)
	must(t, s.RecordDigestSend(ctx, "2026-W49", nil, collector.DigestStatusSent, ""), "record sent to nobody")
	sent("2026-W49", true)

	if err := s.RecordDigestSend(ctx, "", to, collector.DigestStatusSent, ""); err == nil {
		t.Error("an empty week was recorded")
	}
	if err := s.RecordDigestSend(ctx, "2026-W50", to, "maybe", ""); err == nil {
		t.Error("an unknown status was recorded")
	}
	sent("2026-W50", false)
}
