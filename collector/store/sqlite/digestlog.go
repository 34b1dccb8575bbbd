package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
)

var _ collector.DigestLogStore = (*Store)(nil)

// RecordDigestSend appends one digest send attempt to the log.
func (s *Store) RecordDigestSend(ctx context.Context, week string, recipients []string, status, errMsg string) error {
	if week == "" {
		return errors.New("record digest send: empty week")
	}
	if status != collector.DigestStatusSent && status != collector.DigestStatusFailed {
		return fmt.Errorf("record digest send: unknown status %q", status)
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO digest_sends (week, recipients, status, error, at) VALUES (?, ?, ?, ?, ?)`,
			week, strings.Join(recipients, ","), status, errMsg, toMicros(s.opts.Now()))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("record digest send of %s: %w", week, err)
	}
	return nil
}

// DigestSent reports whether the digest of week was sent.
func (s *Store) DigestSent(ctx context.Context, week string) (bool, error) {
	var n int
	err := s.readDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM digest_sends WHERE week = ? AND status = 'sent'`, week).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("digest sent of %s: %w", week, err)
	}
	return n > 0, nil
}
