package sqlite

import (
	"context"
	"fmt"
)

// OAuthGrantDetails returns, per app, the distinct details of its OAuth
// grant evidence: the scopes each grant gave, which the inventory checks
// against the catalog's scope risk table.
func (s *Store) OAuthGrantDetails(ctx context.Context) (map[string][]string, error) {
	rows, err := s.readDB.QueryContext(ctx,
		`SELECT DISTINCT app_id, detail FROM evidence WHERE source = 'oauth_grant' AND detail <> ''`)
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
