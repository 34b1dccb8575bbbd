package collector

import "context"

// This file holds the weekly digest's send log (collector/digest): one row
// per attempt to deliver a week's digest, so that a restart of the
// collector never sends the same week twice and IT can see what went out.
//
// An attempt is logged as sending before the SMTP exchange and as sent or
// failed after it. A week whose latest row is still sending was cut off
// mid-send (the collector stopped or crashed): the mail may or may not
// have arrived. The digest is sent at most once, so such a week is settled
// as in doubt and IT is told, rather than sent again on its own.

// Digest send statuses.
const (
	DigestStatusSending = "sending"
	DigestStatusSent    = "sent"
	DigestStatusFailed  = "failed"
	DigestStatusInDoubt = "in_doubt"
)

// DigestLogStore keeps the digest send log.
type DigestLogStore interface {
	// RecordDigestSend appends one row for week (an ISO week, "2026-W48"):
	// the recipients, one of the DigestStatus values, and the error or
	// explanation ("" for sending and sent). An empty week or an unknown
	// status is refused.
	RecordDigestSend(ctx context.Context, week string, recipients []string, status, errMsg string) error
	// DigestWeekStatus is what the log says of week: DigestStatusSent if
	// any attempt was sent, else DigestStatusInDoubt if one was settled as
	// in doubt, else the latest row's status (DigestStatusSending or
	// DigestStatusFailed), or "" when the week has no row.
	DigestWeekStatus(ctx context.Context, week string) (string, error)
}
