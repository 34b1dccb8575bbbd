package storetest

import (
	"context"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// testDigestLog: a failed attempt does not count as sent, a sent one does,
// an attempt left at sending shows as such until settled, weeks are apart,
// and bad input is refused.
func testDigestLog(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	to := []string{"it@example.com", "cio@example.com"}

	status := func(week, want string) {
		t.Helper()
		got, err := s.DigestWeekStatus(ctx, week)
		must(t, err, "digest status "+week)
		if got != want {
			t.Errorf("DigestWeekStatus(%s) = %q, want %q", week, got, want)
		}
	}
	record := func(week, st string) {
		t.Helper()
		must(t, s.RecordDigestSend(ctx, week, to, st, ""), "record "+st)
	}
	status("2026-W48", "")
	record("2026-W48", collector.DigestStatusSending)
	status("2026-W48", collector.DigestStatusSending)
	must(t, s.RecordDigestSend(ctx, "2026-W48", to, collector.DigestStatusFailed, "smtp: connection refused"), "record failed")
	status("2026-W48", collector.DigestStatusFailed)
	record("2026-W48", collector.DigestStatusSending)
	record("2026-W48", collector.DigestStatusSent)
	status("2026-W48", collector.DigestStatusSent)
	// A later row never takes "sent" back.
	record("2026-W48", collector.DigestStatusSending)
	status("2026-W48", collector.DigestStatusSent)

	status("2026-W49", "")
	must(t, s.RecordDigestSend(ctx, "2026-W49", nil, collector.DigestStatusSent, ""), "record sent to nobody")
	status("2026-W49", collector.DigestStatusSent)

	record("2026-W51", collector.DigestStatusSending)
	record("2026-W51", collector.DigestStatusInDoubt)
	status("2026-W51", collector.DigestStatusInDoubt)
	record("2026-W51", collector.DigestStatusFailed) // a manual retry that failed
	status("2026-W51", collector.DigestStatusInDoubt)

	if err := s.RecordDigestSend(ctx, "", to, collector.DigestStatusSent, ""); err == nil {
		t.Error("an empty week was recorded")
	}
	if err := s.RecordDigestSend(ctx, "2026-W50", to, "maybe", ""); err == nil {
		t.Error("an unknown status was recorded")
	}
	status("2026-W50", "")
}
