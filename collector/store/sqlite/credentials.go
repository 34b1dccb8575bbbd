package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/shadowmap/shadowmap/collector"
)

var _ collector.CredentialStore = (*Store)(nil)

// CredentialOverrides returns the credentials set in the web view, sorted
// by key.
func (s *Store) CredentialOverrides(ctx context.Context) ([]collector.CredentialOverride, error) {
	rows, err := s.readDB.QueryContext(ctx, "SELECT key, file, set_by, set_at FROM credential_overrides ORDER BY key")
	if err != nil {
		return nil, fmt.Errorf("credential overrides: %w", err)
	}
	defer rows.Close()
	var out []collector.CredentialOverride
	for rows.Next() {
		var c collector.CredentialOverride
		var at int64
		if err := rows.Scan(&c.Key, &c.File, &c.SetBy, &at); err != nil {
			return nil, fmt.Errorf("credential overrides: %w", err)
		}
		c.SetAt = fromMicros(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("credential overrides: %w", err)
	}
	return out, nil
}

// SetCredentialOverride adds or replaces the override of c.Key.
func (s *Store) SetCredentialOverride(ctx context.Context, c collector.CredentialOverride) error {
	if c.Key == "" || c.File == "" {
		return errors.New("set credential override: empty key or file")
	}
	if c.SetAt.IsZero() {
		c.SetAt = s.opts.Now()
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO credential_overrides (key, file, set_by, set_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET file = excluded.file, set_by = excluded.set_by, set_at = excluded.set_at`,
			c.Key, c.File, c.SetBy, toMicros(c.SetAt))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("set credential override %s: %w", c.Key, err)
	}
	return nil
}

// DeleteCredentialOverride removes the override of key.
func (s *Store) DeleteCredentialOverride(ctx context.Context, key string) error {
	err := s.write(ctx, func(w *writeTx) error {
		res, err := w.execSQL("DELETE FROM credential_overrides WHERE key = ?", key)
		if err != nil {
			return err
		}
		return mustAffect(res)
	}, nil)
	if err != nil {
		return fmt.Errorf("delete credential override %s: %w", key, err)
	}
	return nil
}
