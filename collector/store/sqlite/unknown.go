package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// normaliseUnknownDomains checks what the store cannot do without (a
// domain, a day it can compare) and makes odd values storable: domains
// are lowercased without a trailing dot, a count below 1 is 1. The server
// has validated the rest.
func normaliseUnknownDomains(in []collector.UnknownDomainCount) ([]collector.UnknownDomainCount, error) {
	out := make([]collector.UnknownDomainCount, len(in))
	for i, u := range in {
		u.Domain = strings.TrimSuffix(strings.ToLower(u.Domain), ".")
		if u.Domain == "" {
			return nil, fmt.Errorf("unknown domain %d: empty domain", i)
		}
		if _, err := time.Parse(time.DateOnly, u.Day); err != nil || len(u.Day) != len(time.DateOnly) {
			return nil, fmt.Errorf("unknown domain %d: day %q is not YYYY-MM-DD", i, u.Day)
		}
		u.Count = max(u.Count, 1)
		out[i] = u
	}
	return out, nil
}

// UnknownDomainDevices returns every unknown domain reported for a UTC day
// on or after since's, with how many distinct devices reported it. The
// device ids stay in SQLite: only the counts come out.
func (s *Store) UnknownDomainDevices(ctx context.Context, since time.Time) (map[string]int, error) {
	rows, err := s.readDB.QueryContext(ctx,
		"SELECT domain, count(DISTINCT device_id) FROM unknown_domains WHERE day >= ? GROUP BY domain",
		since.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("unknown domains: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			domain  string
			devices int
		)
		if err := rows.Scan(&domain, &devices); err != nil {
			return nil, fmt.Errorf("unknown domains: %w", err)
		}
		out[domain] = devices
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unknown domains: %w", err)
	}
	return out, nil
}
