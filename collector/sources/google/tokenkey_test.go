package google

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// The token audit CSV has no event id, so the same grant imported from the
// Reports API and from the CSV must meet on a key both can derive.
func TestTokenEventsStoredOnceAcrossAPIAndCSV(t *testing.T) {
	csv := testFiles("token_audit.csv", "token_audit_excel.csv")
	tests := []struct {
		name  string
		order []string // "api" or "csv"
	}{
		{"api then csv", []string{"api", "csv"}},
		{"csv then api", []string{"csv", "api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGoogle(t)
			st := openStore(t)
			importers := map[string]func() (collector.SourceRun, error){
				"api": func() (collector.SourceRun, error) { return runImport(t, st, newImporter(t, f, &sleeps{})) },
				"csv": func() (collector.SourceRun, error) { return runImport(t, st, NewFileImporter(csv)) },
			}
			for _, which := range tt.order {
				if _, err := importers[which](); err != nil {
					t.Fatalf("%s import: %v", which, err)
				}
			}
			// The API fixture's 4 grants to catalog apps and 2 saml
			// logins; the CSV's 3 grants to catalog apps are among them.
			want := evidenceKeys(t, st)
			if len(want) != 6 {
				t.Errorf("stored %d evidence rows, want 6:\n%s", len(want), dump(t, st))
			}
			// Re-running either path stores nothing new.
			for _, which := range []string{"api", "csv"} {
				run, err := importers[which]()
				if err != nil {
					t.Fatalf("%s import again: %v", which, err)
				}
				if run.Imported != 0 {
					t.Errorf("%s import again stored %d rows", which, run.Imported)
				}
			}
			if got := evidenceKeys(t, st); len(got) != len(want) {
				t.Errorf("re-runs changed the evidence: %d rows, want %d", len(got), len(want))
			}
		})
	}
}

// TestTokenEventKeyTellsEventsApart: events that differ in second, minute
// or person are different grants, stored beside the one the API stored.
func TestTokenEventKeyTellsEventsApart(t *testing.T) {
	const header = "Event,Date,Actor,App name,Client ID,Scope\n"
	const notion = "Notion,318046125471-7ll1c2q9u3ej2n6pbfm8a0sd5ilmhg3t.apps.googleusercontent.com,openid\n"
	tests := []struct {
		name, row string
		want      int
	}{
		{"same event", "Authorize,2026-11-12T10:15:02+01:00,ALICE@acme.example," + notion, 0},
		{"other second", "Authorize,2026-11-12T10:15:03+01:00,alice@acme.example," + notion, 1},
		{"other minute", "Authorize,2026-11-12T10:16:02+01:00,alice@acme.example," + notion, 1},
		{"other user", "Authorize,2026-11-12T10:15:02+01:00,frank@acme.example," + notion, 1},
		{"other app", "Authorize,2026-11-12T10:15:02+01:00,alice@acme.example,Miro,755932154180-0b6mf5ljkgq7a9v1s2d3e4r5t6y7u8i9.apps.googleusercontent.com,openid\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			if _, err := runImport(t, st, newImporter(t, newFakeGoogle(t), &sleeps{})); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "audit.csv")
			writeFile(t, p, []byte(header+tt.row))
			run, err := runImport(t, st, NewFileImporter([]string{p}))
			if err != nil {
				t.Fatal(err)
			}
			if run.Imported != int64(tt.want) {
				t.Errorf("imported %d rows, want %d:\n%s", run.Imported, tt.want, dump(t, st))
			}
		})
	}
}

// TestLegacyTokenKeysMigrated opens a store holding evidence under the
// keys imports wrote before the shared key, API and CSV both (the same
// event twice, as that version stored it): after the store's migration,
// importing the same events again stores nothing.
func TestLegacyTokenKeysMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	ctx := context.Background()
	open := func() *sqlite.Store {
		st, err := sqlite.Open(ctx, path, sqlite.Options{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	grant := func(app, person, when, key string) collector.Evidence {
		tm := at(when)
		return collector.Evidence{AppID: app, Source: collector.SourceOAuthGrant, Person: person, Day: tm.Format(time.DateOnly),
			FirstSeen: tm, LastSeen: tm, Count: 1, Detail: "openid", DedupeKey: key}
	}
	legacy := []collector.Evidence{
		grant("notion", "alice@acme.example", "2026-11-12T09:15:02.118Z", "oauth_grant:google:2026-11-12T09:15:02.118Z:-6709442587437772138:0"),
		grant("miro", "bob@acme.example", "2026-11-14T16:40:55.902Z", "oauth_grant:google:2026-11-14T16:40:55.902Z:2398475610293847561:0"),
		grant("zoom", "alice@acme.example", "2026-11-16T13:27:40.001Z", "oauth_grant:google:2026-11-16T13:27:40.001Z:5810293847561029384:0"),
		grant("notion", "dave@acme.example", "2026-11-18T19:44:31.733Z", "oauth_grant:google:2026-11-18T19:44:31.733Z:-3391028475610293847:0"),
		// The same grant from the CSV, stored twice by the old keys.
		grant("miro", "bob@acme.example", "2026-11-14T16:40:55Z", "oauth_grant:google-csv:420301d85b53441e8591a00c"),
		grant("notion", "dave@acme.example", "2026-11-18T19:44:31Z", "oauth_grant:google-csv:6ba7ffab4f26c4362e2bca85"),
	}
	st := open()
	if _, err := st.AddEvidence(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Make the store as old as the rows: forget the key migration, so the
	// next open applies it to them.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM schema_migrations WHERE name = '0014_google_token_keys'"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st = open()
	defer st.Close()
	before := evidenceKeys(t, st)
	if len(before) != len(legacy) {
		t.Fatalf("migration changed the row count: %d, want %d", len(before), len(legacy))
	}
	f := newFakeGoogle(t)
	for name, imp := range map[string]func() (collector.SourceRun, error){
		"api": func() (collector.SourceRun, error) { return runImport(t, st, newImporter(t, f, &sleeps{})) },
		"csv": func() (collector.SourceRun, error) {
			return runImport(t, st, NewFileImporter(testFiles("token_audit.csv", "token_audit_excel.csv")))
		},
	} {
		run, err := imp()
		if err != nil {
			t.Fatal(err)
		}
		// The API fixture's 2 saml logins are new; no grant is.
		want := map[string]int64{"api": 2, "csv": 0}[name]
		if run.Imported != want {
			t.Errorf("%s import after migration stored %d rows, want %d:\n%s", name, run.Imported, want, dump(t, st))
		}
	}
}

// evidenceKeys lists the stored evidence's dedupe keys.
func evidenceKeys(t *testing.T, st *sqlite.Store) []string {
	t.Helper()
	ev, err := st.ListEvidence(context.Background(), collector.EvidenceFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(ev))
	for i, e := range ev {
		keys[i] = e.DedupeKey
	}
	return keys
}
