package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/shadowmap/shadowmap/collector"
)

// AppStates returns what IT recorded about each app, by app id. An app
// with only an IdP recorded has status unreviewed and a zero At. An app
// that an IdP's app list maps to is inside that IdP unless IT recorded
// another.
func (s *Store) AppStates(ctx context.Context) (map[string]collector.AppState, error) {
	rows, err := s.readDB.QueryContext(ctx, "SELECT app_id, status, decided_by, why, decided_at, inside_idp FROM app_states")
	if err != nil {
		return nil, fmt.Errorf("app states: %w", err)
	}
	defer rows.Close()
	out := map[string]collector.AppState{}
	for rows.Next() {
		var (
			st     collector.AppState
			status string
			at     int64
		)
		if err := rows.Scan(&st.AppID, &status, &st.By, &st.Why, &at, &st.InsideIdP); err != nil {
			return nil, fmt.Errorf("app states: %w", err)
		}
		st.Status, st.At = collector.Status(status), fromMicros(at)
		out[st.AppID] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("app states: %w", err)
	}
	idps, err := s.idpOfApps(ctx)
	if err != nil {
		return nil, fmt.Errorf("app states: %w", err)
	}
	for app, idp := range idps {
		st, ok := out[app]
		if !ok {
			st = collector.AppState{AppID: app, Status: collector.StatusUnreviewed}
		}
		if st.InsideIdP == "" {
			st.InsideIdP = idp
		}
		out[app] = st
	}
	return out, nil
}

// SetStatus records a decision and its history entry in one transaction.
// From is the app's status before (unreviewed when it had none); a zero At
// is set to now. The status must be one of the known ones.
func (s *Store) SetStatus(ctx context.Context, c collector.StatusChange) (collector.StatusChange, error) {
	if c.AppID == "" {
		return collector.StatusChange{}, errors.New("set status: empty app id")
	}
	if !c.To.Valid() {
		return collector.StatusChange{}, fmt.Errorf("set status of %s: unknown status %q", c.AppID, c.To)
	}
	if c.At.IsZero() {
		c.At = s.opts.Now()
	}
	c.At = fromMicros(toMicros(c.At)) // what the store keeps, so the caller sees it too
	at := toMicros(c.At)
	var from string // written by the writer, read once it answered
	err := s.write(ctx, func(w *writeTx) error {
		err := w.queryRow("SELECT status FROM app_states WHERE app_id = ?", c.AppID).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			from, err = string(collector.StatusUnreviewed), nil
		}
		if err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		if _, err := w.execSQL(`INSERT INTO app_states (app_id, status, decided_by, why, decided_at, inside_idp)
				VALUES (?, ?, ?, ?, ?, '')
				ON CONFLICT (app_id) DO UPDATE SET status = excluded.status, decided_by = excluded.decided_by,
					why = excluded.why, decided_at = excluded.decided_at`,
			c.AppID, string(c.To), c.By, c.Why, at); err != nil {
			return fmt.Errorf("store status: %w", err)
		}
		if _, err := w.execSQL(`INSERT INTO status_history (app_id, from_status, to_status, decided_by, why, decided_at)
				VALUES (?, ?, ?, ?, ?, ?)`, c.AppID, from, string(c.To), c.By, c.Why, at); err != nil {
			return fmt.Errorf("store history: %w", err)
		}
		return nil
	}, nil)
	if err != nil {
		return collector.StatusChange{}, fmt.Errorf("set status of %s: %w", c.AppID, err)
	}
	c.From = collector.Status(from)
	return c, nil
}

// StatusHistory returns an app's decisions, oldest first; none for an app
// nobody decided on.
func (s *Store) StatusHistory(ctx context.Context, appID string) ([]collector.StatusChange, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT from_status, to_status, decided_by, why, decided_at
		FROM status_history WHERE app_id = ? ORDER BY id`, appID)
	if err != nil {
		return nil, fmt.Errorf("status history of %s: %w", appID, err)
	}
	defer rows.Close()
	var out []collector.StatusChange
	for rows.Next() {
		var (
			c        collector.StatusChange
			from, to string
			at       int64
		)
		if err := rows.Scan(&from, &to, &c.By, &c.Why, &at); err != nil {
			return nil, fmt.Errorf("status history of %s: %w", appID, err)
		}
		c.AppID, c.From, c.To, c.At = appID, collector.Status(from), collector.Status(to), fromMicros(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status history of %s: %w", appID, err)
	}
	return out, nil
}

// SetInsideIdP records the IdP an app is configured in; "" records that it
// is in none. It leaves the app's status alone.
func (s *Store) SetInsideIdP(ctx context.Context, appID, idp string) error {
	if appID == "" {
		return errors.New("set inside idp: empty app id")
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO app_states (app_id, status, decided_by, why, decided_at, inside_idp)
				VALUES (?, ?, '', '', ?, ?)
				ON CONFLICT (app_id) DO UPDATE SET inside_idp = excluded.inside_idp`,
			appID, string(collector.StatusUnreviewed), toMicros(minTime), idp)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("set inside idp of %s: %w", appID, err)
	}
	return nil
}
