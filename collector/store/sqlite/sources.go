package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// Checkpoint returns an importer's stored place for key.
func (s *Store) Checkpoint(ctx context.Context, source, key string) (string, bool, error) {
	var v string
	err := s.readDB.QueryRowContext(ctx, "SELECT value FROM checkpoints WHERE source = ? AND key = ?", source, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("checkpoint %s/%s: %w", source, key, err)
	}
	return v, true, nil
}

// SetCheckpoint stores an importer's place for key.
func (s *Store) SetCheckpoint(ctx context.Context, source, key, value string) error {
	if source == "" || key == "" {
		return errors.New("set checkpoint: empty source or key")
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO checkpoints (source, key, value, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			source, key, value, toMicros(s.opts.Now()))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("set checkpoint %s/%s: %w", source, key, err)
	}
	return nil
}

// RecordSourceRun stores one importer run.
func (s *Store) RecordSourceRun(ctx context.Context, r collector.SourceRun) error {
	if r.Source == "" {
		return errors.New("record source run: empty source")
	}
	skipped := ""
	if len(r.Skipped) > 0 {
		b, err := json.Marshal(r.Skipped)
		if err != nil {
			return fmt.Errorf("record %s run: %w", r.Source, err)
		}
		skipped = string(b)
	}
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO source_runs (source, started_at, finished_at, events, imported, error, skipped)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Source, toMicros(r.StartedAt), toMicros(r.FinishedAt), r.Events, r.Imported, r.Error, skipped)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("record %s run: %w", r.Source, err)
	}
	return nil
}

// SourceHealth sums up the runs of every source.
func (s *Store) SourceHealth(ctx context.Context) ([]collector.SourceHealth, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT source, finished_at, events, imported, error, skipped
		FROM source_runs ORDER BY source, id`)
	if err != nil {
		return nil, fmt.Errorf("source health: %w", err)
	}
	defer rows.Close()
	var out []collector.SourceHealth
	for rows.Next() {
		var (
			src, runErr, skipped string
			at                   int64
			events, imported     int64
		)
		if err := rows.Scan(&src, &at, &events, &imported, &runErr, &skipped); err != nil {
			return nil, fmt.Errorf("source health: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Source != src {
			out = append(out, collector.SourceHealth{Source: src})
		}
		h := &out[len(out)-1]
		h.Runs++
		h.LastRun, h.LastError, h.LastEvents, h.LastImported = fromMicros(at), runErr, events, imported
		h.LastSkipped = nil
		if skipped != "" {
			if err := json.Unmarshal([]byte(skipped), &h.LastSkipped); err != nil {
				return nil, fmt.Errorf("source health: skipped counts of %s: %w", src, err)
			}
		}
		h.TotalImported += imported
		if runErr == "" {
			h.LastSuccess, h.Failures = fromMicros(at), 0
		} else {
			h.Failures++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("source health: %w", err)
	}
	return out, nil
}

// ReplaceIdPApps makes apps the whole app list of idp.
func (s *Store) ReplaceIdPApps(ctx context.Context, idp string, apps []collector.IdPApp, at time.Time) error {
	if idp == "" {
		return errors.New("replace idp apps: empty idp")
	}
	for _, a := range apps {
		if a.IdP != idp {
			return fmt.Errorf("replace %s apps: app %q is of idp %q", idp, a.ExternalID, a.IdP)
		}
	}
	err := s.write(ctx, func(w *writeTx) error {
		if err := upsertIdPApps(w, apps); err != nil {
			return err
		}
		keep := make([]string, len(apps))
		for i, a := range apps {
			keep[i] = a.ExternalID
		}
		ids, err := json.Marshal(keep)
		if err != nil {
			return err
		}
		_, err = w.execSQL(`DELETE FROM idp_apps WHERE idp = ?
			AND external_id NOT IN (SELECT value FROM json_each(?))`, idp, string(ids))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("replace %s apps: %w", idp, err)
	}
	return nil
}

// AddIdPApps adds or refreshes IdP apps, leaving the others.
func (s *Store) AddIdPApps(ctx context.Context, apps []collector.IdPApp) error {
	err := s.write(ctx, func(w *writeTx) error { return upsertIdPApps(w, apps) }, nil)
	if err != nil {
		return fmt.Errorf("add idp apps: %w", err)
	}
	return nil
}

// upsertIdPApps writes apps; a stored manual mapping wins over the
// import's.
func upsertIdPApps(w *writeTx, apps []collector.IdPApp) error {
	for _, a := range apps {
		if a.IdP == "" || a.ExternalID == "" {
			return errors.New("idp app with an empty idp or id")
		}
		urls, err := json.Marshal(nonNil(a.URLs))
		if err != nil {
			return err
		}
		if _, err := w.execSQL(`INSERT INTO idp_apps (idp, external_id, name, protocol, provisioning, active, urls, app_id, mapped_by, seen_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (idp, external_id) DO UPDATE SET name = excluded.name, protocol = excluded.protocol,
					provisioning = excluded.provisioning, active = excluded.active, urls = excluded.urls,
					seen_at = max(seen_at, excluded.seen_at),
					app_id = CASE WHEN mapped_by = 'manual' THEN app_id ELSE excluded.app_id END,
					mapped_by = CASE WHEN mapped_by = 'manual' THEN mapped_by ELSE excluded.mapped_by END`,
			a.IdP, a.ExternalID, a.Name, a.Protocol, a.Provisioning, a.Active, string(urls), a.AppID, a.MappedBy, toMicros(a.SeenAt)); err != nil {
			return fmt.Errorf("store %s app %s: %w", a.IdP, a.ExternalID, err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// IdPApps lists every stored IdP app, by IdP and name.
func (s *Store) IdPApps(ctx context.Context) ([]collector.IdPApp, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT idp, external_id, name, protocol, provisioning, active, urls, app_id, mapped_by, seen_at
		FROM idp_apps ORDER BY idp, name, external_id`)
	if err != nil {
		return nil, fmt.Errorf("idp apps: %w", err)
	}
	defer rows.Close()
	var out []collector.IdPApp
	for rows.Next() {
		var (
			a    collector.IdPApp
			urls string
			seen int64
		)
		if err := rows.Scan(&a.IdP, &a.ExternalID, &a.Name, &a.Protocol, &a.Provisioning, &a.Active, &urls, &a.AppID, &a.MappedBy, &seen); err != nil {
			return nil, fmt.Errorf("idp apps: %w", err)
		}
		if err := json.Unmarshal([]byte(urls), &a.URLs); err != nil {
			return nil, fmt.Errorf("idp apps: urls of %s/%s: %w", a.IdP, a.ExternalID, err)
		}
		if len(a.URLs) == 0 {
			a.URLs = nil
		}
		a.SeenAt = fromMicros(seen)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("idp apps: %w", err)
	}
	return out, nil
}

// MapIdPApp sets or clears IT's mapping of an IdP app.
func (s *Store) MapIdPApp(ctx context.Context, idp, externalID, appID string) error {
	err := s.write(ctx, func(w *writeTx) error {
		var res sql.Result
		var err error
		if appID == "" {
			res, err = w.execSQL(`UPDATE idp_apps SET app_id = '', mapped_by = '' WHERE idp = ? AND external_id = ?`, idp, externalID)
		} else {
			res, err = w.execSQL(`UPDATE idp_apps SET app_id = ?, mapped_by = 'manual' WHERE idp = ? AND external_id = ?`, appID, idp, externalID)
		}
		if err != nil {
			return err
		}
		return mustAffect(res)
	}, nil)
	if err != nil {
		return fmt.Errorf("map %s app %s: %w", idp, externalID, err)
	}
	return nil
}

// idpOfApps returns, per catalog app mapped from an active IdP app, the
// IdP it is in (the first by name when several), for AppStates.
func (s *Store) idpOfApps(ctx context.Context) (map[string]string, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT app_id, min(idp) FROM idp_apps
		WHERE app_id <> '' AND active = 1 GROUP BY app_id`)
	if err != nil {
		return nil, fmt.Errorf("idp of apps: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var app, idp string
		if err := rows.Scan(&app, &idp); err != nil {
			return nil, fmt.Errorf("idp of apps: %w", err)
		}
		out[app] = idp
	}
	return out, rows.Err()
}

// UpsertGrants records grants seen.
func (s *Store) UpsertGrants(ctx context.Context, grants []collector.OAuthGrant) error {
	err := s.write(ctx, func(w *writeTx) error {
		for _, g := range grants {
			if err := upsertGrant(w, g); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("upsert oauth grants: %w", err)
	}
	return nil
}

func upsertGrant(w *writeTx, g collector.OAuthGrant) error {
	if g.Provider == "" || g.Person == "" || g.ClientID == "" {
		return errors.New("oauth grant with an empty provider, person or client id")
	}
	granted := g.GrantedAt
	if granted.IsZero() {
		granted = g.SeenAt
	}
	_, err := w.exec(stUpsertGrant,
		g.Provider, strings.ToLower(g.Person), g.ClientID, g.AppID, g.Name, scopeList(g.Scopes), toMicros(granted), toMicros(g.SeenAt))
	if err != nil {
		return fmt.Errorf("store grant of %s to %s: %w", g.Person, g.ClientID, err)
	}
	return nil
}

// scopeList is the stored form of scopes: sorted, distinct, space-separated.
func scopeList(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	s = slices.Compact(s)
	s = slices.DeleteFunc(s, func(v string) bool { return v == "" })
	return strings.Join(s, " ")
}

// RevokeGrant marks one grant revoked.
func (s *Store) RevokeGrant(ctx context.Context, provider, person, clientID string, at time.Time) error {
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`UPDATE oauth_grants SET revoked_at = ? WHERE provider = ? AND person = ? AND client_id = ?
			AND revoked_at = 0 AND seen_at <= ?`,
			toMicros(at), provider, strings.ToLower(person), clientID, toMicros(at))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("revoke grant of %s to %s: %w", person, clientID, err)
	}
	return nil
}

// ReplacePersonGrants makes grants a person's whole current set.
func (s *Store) ReplacePersonGrants(ctx context.Context, provider, person string, grants []collector.OAuthGrant, at time.Time) error {
	person = strings.ToLower(person)
	keep := make([]string, 0, len(grants))
	for _, g := range grants {
		if g.Provider != provider || strings.ToLower(g.Person) != person {
			return fmt.Errorf("replace grants of %s: a grant of %s at %s", person, g.Person, g.Provider)
		}
		keep = append(keep, g.ClientID)
	}
	ids, err := json.Marshal(keep)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(w *writeTx) error {
		for _, g := range grants {
			if err := upsertGrant(w, g); err != nil {
				return err
			}
		}
		_, err := w.execSQL(`UPDATE oauth_grants SET revoked_at = ? WHERE provider = ? AND person = ? AND revoked_at = 0
			AND client_id NOT IN (SELECT value FROM json_each(?))`, toMicros(at), provider, person, string(ids))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("replace grants of %s: %w", person, err)
	}
	return nil
}

// CurrentGrants lists the grants that stand.
func (s *Store) CurrentGrants(ctx context.Context) ([]collector.OAuthGrant, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT provider, person, client_id, app_id, name, scopes, granted_at, seen_at
		FROM oauth_grants WHERE revoked_at = 0 ORDER BY provider, person, client_id`)
	if err != nil {
		return nil, fmt.Errorf("current grants: %w", err)
	}
	defer rows.Close()
	var out []collector.OAuthGrant
	for rows.Next() {
		var (
			g             collector.OAuthGrant
			scopes        string
			granted, seen int64
		)
		if err := rows.Scan(&g.Provider, &g.Person, &g.ClientID, &g.AppID, &g.Name, &scopes, &granted, &seen); err != nil {
			return nil, fmt.Errorf("current grants: %w", err)
		}
		g.Scopes = strings.Fields(scopes)
		g.GrantedAt, g.SeenAt = fromMicros(granted), fromMicros(seen)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("current grants: %w", err)
	}
	return out, nil
}

// OAuthCandidates sums up current grants to clients the catalog does not
// know.
func (s *Store) OAuthCandidates(ctx context.Context) ([]collector.OAuthCandidate, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT provider, client_id, name, person, scopes, granted_at, seen_at
		FROM oauth_grants WHERE revoked_at = 0 AND app_id = '' ORDER BY provider, client_id`)
	if err != nil {
		return nil, fmt.Errorf("oauth candidates: %w", err)
	}
	defer rows.Close()
	var out []collector.OAuthCandidate
	var people map[string]bool
	var scopes map[string]bool
	finish := func() {
		if len(out) == 0 {
			return
		}
		c := &out[len(out)-1]
		c.People = len(people)
		for sc := range scopes {
			c.Scopes = append(c.Scopes, sc)
		}
		slices.Sort(c.Scopes)
	}
	for rows.Next() {
		var (
			provider, client, name, person, sc string
			granted, seen                      int64
		)
		if err := rows.Scan(&provider, &client, &name, &person, &sc, &granted, &seen); err != nil {
			return nil, fmt.Errorf("oauth candidates: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Provider != provider || out[len(out)-1].ClientID != client {
			finish()
			out = append(out, collector.OAuthCandidate{Provider: provider, ClientID: client, FirstSeen: fromMicros(granted)})
			people, scopes = map[string]bool{}, map[string]bool{}
		}
		c := &out[len(out)-1]
		if c.Name == "" {
			c.Name = name
		}
		people[person] = true
		for _, v := range strings.Fields(sc) {
			scopes[v] = true
		}
		if t := fromMicros(granted); t.Before(c.FirstSeen) {
			c.FirstSeen = t
		}
		if t := fromMicros(seen); t.After(c.LastSeen) {
			c.LastSeen = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("oauth candidates: %w", err)
	}
	finish()
	slices.SortStableFunc(out, func(a, b collector.OAuthCandidate) int { return cmp.Compare(b.People, a.People) })
	return out, nil
}
