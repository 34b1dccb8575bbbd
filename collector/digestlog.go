package collector

import "context"

// This file holds the weekly digest's send log (collector/digest): one row
// per attempt to deliver a week's digest, so that a restart of the
// collector never sends the same week twice and IT can see what went out.

// Digest send statuses.
const (
	DigestStatusSent   = "sent"
	DigestStatusFailed = "failed"
)

// DigestLogStore keeps the digest send log.
type DigestLogStore interface {
	// RecordDigestSend appends one send attempt for week (an ISO week,
	// "2026-W48"): the recipients, DigestStatusSent or DigestStatusFailed,
	// and the error of a failed attempt ("" for a sent one). An empty week
	// or an unknown status is refused.
	RecordDigestSend(ctx context.Context, week string, recipients []string, status, errMsg string) error
	// DigestSent reports whether any attempt for week was sent.
	DigestSent(ctx context.Context, week string) (bool, error)
}
