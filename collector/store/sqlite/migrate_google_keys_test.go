package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// TestMigrationGoogleTokenKeys applies 0014 to rows stored under the keys
// before it: Google grant keys take the shared form, a grant stored twice
// keeps one old key instead of failing the migration, and every other key
// is left alone.
func TestMigrationGoogleTokenKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shadowmap.db")
	ctx := context.Background()
	at := time.Date(2026, 11, 14, 16, 40, 55, 902_000_000, time.UTC)
	row := func(source collector.Source, app, person, key string, when time.Time) collector.Evidence {
		return collector.Evidence{AppID: app, Source: source, Person: person, Day: when.Format(time.DateOnly),
			FirstSeen: when, LastSeen: when, Count: 1, DedupeKey: key}
	}
	rows := []collector.Evidence{
		row(collector.SourceOAuthGrant, "miro", "bob@acme.example", "oauth_grant:google:2026-11-14T16:40:55.902Z:2398475610293847561:0", at),
		row(collector.SourceOAuthGrant, "miro", "bob@acme.example", "oauth_grant:google-csv:420301d85b53441e8591a00c", at.Truncate(time.Second)),
		row(collector.SourceOAuthGrant, "notion", "alice@acme.example", "oauth_grant:google-csv:e0c0c4c5f382762d1be16b75", time.Date(2026, 11, 12, 9, 15, 2, 0, time.UTC)),
		row(collector.SourceOAuthGrant, "notion", "", "oauth_grant:google-accessed-app:318046125471", at),
		row(collector.SourceSSOLogin, "slack", "alice@acme.example", "sso_login:google:2026-11-13T08:30:12.512Z:3847561029384756102:0", at),
		row(collector.SourceOAuthGrant, "zoom", "carol@acme.example", "oauth_grant:entra:abc", at),
	}
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddEvidence(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec("DELETE FROM schema_migrations WHERE name = '0014_google_token_keys'"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = openTest(t, path)
	ev, err := s.ListEvidence(ctx, collector.EvidenceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	oldBob := 0
	for _, e := range ev {
		// One of bob's two rows takes the new key, whichever SQLite
		// updates first; the other keeps its own.
		if e.DedupeKey == rows[0].DedupeKey || e.DedupeKey == rows[1].DedupeKey {
			oldBob++
			continue
		}
		got = append(got, e.DedupeKey)
	}
	if oldBob != 1 {
		t.Errorf("%d of bob's rows kept their old key, want 1", oldBob)
	}
	slices.Sort(got)
	want := []string{
		"oauth_grant:entra:abc",
		"oauth_grant:google-accessed-app:318046125471",
		"oauth_grant:google-token:authorize:miro:2026-11-14T16:40:55Z:bob@acme.example",
		"oauth_grant:google-token:authorize:notion:2026-11-12T09:15:02Z:alice@acme.example",
		"sso_login:google:2026-11-13T08:30:12.512Z:3847561029384756102:0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("keys after migration:\n%q\nwant\n%q", got, want)
	}
}
