package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/shadowmap/shadowmap/collector"
)

var _ collector.AppNoteStore = (*Store)(nil)

// AppNote returns IT's note about an app, or a zero note when there is
// none.
func (s *Store) AppNote(ctx context.Context, appID string) (collector.AppNote, error) {
	n := collector.AppNote{AppID: appID}
	var at int64
	err := s.readDB.QueryRowContext(ctx, "SELECT owner, notes, updated_by, updated_at FROM app_notes WHERE app_id = ?", appID).
		Scan(&n.Owner, &n.Notes, &n.By, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return n, nil
	}
	if err != nil {
		return collector.AppNote{}, fmt.Errorf("app note of %s: %w", appID, err)
	}
	n.At = fromMicros(at)
	return n, nil
}

// SetAppNote replaces IT's note about an app.
func (s *Store) SetAppNote(ctx context.Context, n collector.AppNote) error {
	if n.AppID == "" {
		return errors.New("set app note: empty app id")
	}
	if n.At.IsZero() {
		n.At = s.opts.Now()
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO app_notes (app_id, owner, notes, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (app_id) DO UPDATE SET owner = excluded.owner, notes = excluded.notes,
					updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			n.AppID, n.Owner, n.Notes, n.By, toMicros(n.At))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("set app note of %s: %w", n.AppID, err)
	}
	return nil
}
