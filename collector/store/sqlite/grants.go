package sqlite

import (
	"context"
	"fmt"
)

// OAuthGrantDetails returns, per app, the scopes of its OAuth grants
// (space-separated, one string per distinct set), which the inventory
// checks against the catalog's scope risk table. Where an importer keeps a
// person's grant current (oauth_grants), that wins over the grant events
// in evidence, so a revoked grant stops counting; grants known only from
// evidence count as they were granted.
func (s *Store) OAuthGrantDetails(ctx context.Context) (map[string][]string, error) {
	rows, err := s.readDB.QueryContext(ctx,
		`SELECT DISTINCT app_id, detail FROM evidence e WHERE source = 'oauth_grant' AND detail <> ''
			AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.app_id = e.app_id AND g.person = e.person)
		UNION
		SELECT DISTINCT app_id, scopes FROM oauth_grants WHERE revoked_at = 0 AND app_id <> '' AND scopes <> ''`)
	if err != nil {
		return nil, fmt.Errorf("oauth grant details: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var app, detail string
		if err := rows.Scan(&app, &detail); err != nil {
			return nil, fmt.Errorf("oauth grant details: %w", err)
		}
		out[app] = append(out[app], detail)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("oauth grant details: %w", err)
	}
	return out, nil
}
