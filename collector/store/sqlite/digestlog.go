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
	switch status {
	case collector.DigestStatusSending, collector.DigestStatusSent, collector.DigestStatusFailed, collector.DigestStatusInDoubt:
	default:
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

// DigestWeekStatus reports what the send log says of week.
func (s *Store) DigestWeekStatus(ctx context.Context, week string) (string, error) {
	var status string
	err := s.readDB.QueryRowContext(ctx, `SELECT CASE
		WHEN EXISTS (SELECT 1 FROM digest_sends WHERE week = ?1 AND status = 'sent') THEN 'sent'
		WHEN EXISTS (SELECT 1 FROM digest_sends WHERE week = ?1 AND status = 'in_doubt') THEN 'in_doubt'
		ELSE COALESCE((SELECT status FROM digest_sends WHERE week = ?1 ORDER BY id DESC LIMIT 1), '')
		END`, week).Scan(&status)
	if err != nil {
		return "", fmt.Errorf("digest status of %s: %w", week, err)
	}
	return status, nil
}
