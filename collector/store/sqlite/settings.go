package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

var (
	_ collector.EnrollSecretStore     = (*Store)(nil)
	_ collector.DigestRecipientsStore = (*Store)(nil)
	_ collector.RetentionStore        = (*Store)(nil)
)

// Keys of the settings table.
const (
	settingDigestRecipients    = "digest_recipients"
	settingRetentionEvidence   = "retention.evidence"
	settingRetentionAggregates = "retention.aggregates"
)

// CreateEnrollSecret stores a new enroll secret made in the web view.
func (s *Store) CreateEnrollSecret(ctx context.Context, sec collector.EnrollSecret) error {
	if sec.Name == "" {
		return errors.New("create enroll secret: empty name")
	}
	if len(sec.Hash) != 32 {
		return fmt.Errorf("create enroll secret %s: the hash is %d bytes, want a SHA-256", sec.Name, len(sec.Hash))
	}
	if sec.CreatedAt.IsZero() {
		sec.CreatedAt = s.opts.Now()
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL("INSERT INTO enroll_secrets (name, hash, created_by, created_at) VALUES (?, ?, ?, ?)",
			sec.Name, sec.Hash, sec.CreatedBy, toMicros(sec.CreatedAt))
		if isUniqueError(err) {
			return collector.ErrEnrollSecretExists
		}
		return err
	}, nil)
	if errors.Is(err, collector.ErrEnrollSecretExists) {
		return err
	}
	if err != nil {
		return fmt.Errorf("create enroll secret %s: %w", sec.Name, err)
	}
	return nil
}

// EnrollSecrets returns every stored enroll secret, sorted by name.
func (s *Store) EnrollSecrets(ctx context.Context) ([]collector.EnrollSecret, error) {
	rows, err := s.readDB.QueryContext(ctx, "SELECT name, hash, created_by, created_at, revoked_at, revoked_by FROM enroll_secrets ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("enroll secrets: %w", err)
	}
	defer rows.Close()
	var out []collector.EnrollSecret
	for rows.Next() {
		var sec collector.EnrollSecret
		var created, revoked int64
		if err := rows.Scan(&sec.Name, &sec.Hash, &sec.CreatedBy, &created, &revoked, &sec.RevokedBy); err != nil {
			return nil, fmt.Errorf("enroll secrets: %w", err)
		}
		sec.CreatedAt = fromMicros(created)
		if revoked != 0 {
			sec.RevokedAt = fromMicros(revoked)
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("enroll secrets: %w", err)
	}
	return out, nil
}

// RevokeEnrollSecret revokes a stored enroll secret.
func (s *Store) RevokeEnrollSecret(ctx context.Context, name, by string, at time.Time) error {
	if at.IsZero() {
		at = s.opts.Now()
	}
	micros := toMicros(at)
	if micros == 0 {
		micros = 1 // 0 means active
	}
	err := s.write(ctx, func(w *writeTx) error {
		var revoked int64
		if err := w.queryRow("SELECT revoked_at FROM enroll_secrets WHERE name = ?", name).Scan(&revoked); errNoRows(err) {
			return collector.ErrNotFound
		} else if err != nil {
			return err
		}
		if revoked != 0 {
			return nil // the first revocation stands
		}
		_, err := w.execSQL("UPDATE enroll_secrets SET revoked_at = ?, revoked_by = ? WHERE name = ?", micros, by, name)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("revoke enroll secret %s: %w", name, err)
	}
	return nil
}

// DigestRecipients returns the weekly digest's recipients.
func (s *Store) DigestRecipients(ctx context.Context) ([]string, error) {
	v, err := s.setting(ctx, settingDigestRecipients)
	if err != nil || v == "" {
		return nil, err
	}
	return strings.Split(v, "\n"), nil
}

// SetDigestRecipients replaces the weekly digest's recipients.
func (s *Store) SetDigestRecipients(ctx context.Context, emails []string) error {
	if len(emails) > collector.MaxDigestRecipients {
		return fmt.Errorf("set digest recipients: %d addresses, at most %d", len(emails), collector.MaxDigestRecipients)
	}
	for _, e := range emails {
		// Newlines separate the stored addresses.
		if e == "" || strings.ContainsAny(e, "\r\n") {
			return fmt.Errorf("set digest recipients: bad address %q", e)
		}
	}
	err := s.write(ctx, func(w *writeTx) error {
		return putSetting(w, settingDigestRecipients, strings.Join(emails, "\n"), "", s.opts.Now())
	}, nil)
	if err != nil {
		return fmt.Errorf("set digest recipients: %w", err)
	}
	return nil
}

// RetentionOverride returns the retention set in the web view.
func (s *Store) RetentionOverride(ctx context.Context) (collector.RetentionOverride, error) {
	var o collector.RetentionOverride
	rows, err := s.readDB.QueryContext(ctx, "SELECT key, value, updated_by, updated_at FROM settings WHERE key IN (?, ?)",
		settingRetentionEvidence, settingRetentionAggregates)
	if err != nil {
		return o, fmt.Errorf("retention override: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, value, by string
		var at int64
		if err := rows.Scan(&key, &value, &by, &at); err != nil {
			return o, fmt.Errorf("retention override: %w", err)
		}
		if key == settingRetentionEvidence {
			o.Evidence = value
		} else {
			o.Aggregates = value
		}
		o.By, o.At = by, fromMicros(at)
	}
	if err := rows.Err(); err != nil {
		return o, fmt.Errorf("retention override: %w", err)
	}
	return o, nil
}

// SetRetentionOverride replaces the retention set in the web view; both
// periods are written in one transaction, so the purge never reads one
// new and one old.
func (s *Store) SetRetentionOverride(ctx context.Context, o collector.RetentionOverride) error {
	if o.At.IsZero() {
		o.At = s.opts.Now()
	}
	err := s.write(ctx, func(w *writeTx) error {
		for _, kv := range []struct{ key, value string }{{settingRetentionEvidence, o.Evidence}, {settingRetentionAggregates, o.Aggregates}} {
			if kv.value == "" {
				if _, err := w.execSQL("DELETE FROM settings WHERE key = ?", kv.key); err != nil {
					return err
				}
				continue
			}
			if err := putSetting(w, kv.key, kv.value, o.By, o.At); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("set retention override: %w", err)
	}
	return nil
}

// setting reads one key of the settings table; "" when unset.
func (s *Store) setting(ctx context.Context, key string) (string, error) {
	var value string
	err := s.readDB.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&value)
	if errNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	return value, nil
}

func putSetting(w *writeTx, key, value, by string, at time.Time) error {
	_, err := w.execSQL(`INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		key, value, by, toMicros(at))
	return err
}
