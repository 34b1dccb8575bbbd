package google

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

func testFiles(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join("testdata", "files", n)
	}
	return out
}

func TestFileImport(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		// The tokens file names users by id: users.json, listed after it,
		// is read first and names them.
		{"api_responses", testFiles("activities_token.json", "tokens.json", "activities_saml.json", "users.json")},
		{"token_audit_csv", testFiles("token_audit.csv", "token_audit_excel.csv")},
		{"accessed_apps_csv", testFiles("accessed_apps.csv")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			imp := NewFileImporter(tt.files)
			if imp.Name() != Source {
				t.Errorf("Name() = %q", imp.Name())
			}
			run, err := runImport(t, st, imp)
			if err != nil {
				t.Fatal(err)
			}
			got := dump(t, st)
			golden.Check(t, filepath.Join("testdata", "golden", "files_"+tt.name+".txt"), got)
			if run.Events == 0 {
				t.Error("no events counted")
			}
			// Importing the same files again stores nothing new.
			run, err = runImport(t, st, imp)
			if err != nil {
				t.Fatal(err)
			}
			if run.Imported != 0 {
				t.Errorf("second import stored %d rows", run.Imported)
			}
			if again := dump(t, st); again != got {
				t.Errorf("second import changed the store:\n%s", again)
			}
		})
	}
}

func TestFileImportErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, []byte(content))
		return p
	}
	tests := []struct {
		name, content, want string
	}{
		{"truncated.json", `{"kind":"admin#reports#activities","items":[{"id":{"time":"2026-11-12T09:15:02.118Z"`, "not a Google API response"},
		{"other.json", `{"kind":"drive#fileList","files":[]}`, `without a known "kind"`},
		{"bad-items.json", `{"kind":"admin#reports#activities","items":[{"id":"x"}]}`, "decode activities"},
		{"int-as-number.json", `{"kind":"admin#directory#tokenList","items":[{"clientId":7}]}`, "decode tokens"},
		{"other.csv", "Name,Amount\nx,1\n", "not a Google export"},
		{"empty.csv", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name, tt.content)
			_, err := runImport(t, openStore(t), NewFileImporter([]string{p}))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("err = %v; want it to name the file and say %q", err, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := runImport(t, openStore(t), NewFileImporter([]string{filepath.Join(dir, "nope.csv")}))
		if err == nil || !strings.Contains(err.Error(), "nope.csv") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestFileAndAPIAgree imports the API responses from files into a store
// the API importer filled: the same events have the same dedupe keys.
func TestFileAndAPIAgree(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	if _, err := runImport(t, st, newImporter(t, f, &sleeps{})); err != nil {
		t.Fatal(err)
	}
	run, err := runImport(t, st, NewFileImporter(testFiles("activities_token.json", "activities_saml.json")))
	if err != nil {
		t.Fatal(err)
	}
	if run.Imported != 0 {
		t.Errorf("files re-imported %d events the API had stored", run.Imported)
	}
	if _, ok, _ := st.Checkpoint(context.Background(), Source, checkpointReports); !ok {
		t.Error("no checkpoint")
	}
}

// TestFileImportRefusesTimesWithoutOffset checks that a token audit export
// with a time that does not say its UTC offset is refused whole, with an
// error that names the file, line, column and value and says how to fix
// it: guessing the offset would store the grant at a wrong time, and a
// second time once the Reports API sends it.
func TestFileImportRefusesTimesWithoutOffset(t *testing.T) {
	const notion = "318046125471-7ll1c2q9u3ej2n6pbfm8a0sd5ilmhg3t.apps.googleusercontent.com"
	// More good rows than one store call takes, so rows before the bad
	// one would have been stored had the file been read row by row.
	var good strings.Builder
	for i := range storeEvery + 1 {
		fmt.Fprintf(&good, "Authorize,2026-11-12T10:15:02+01:00,user%d@acme.example,Notion,%s,openid\n", i, notion)
	}
	tests := []struct {
		name, header, value string
		want                []string
	}{
		{"abbreviation", "Date", "Nov 18, 2026, 11:44:31 AM PST",
			[]string{`line 1003, column "Date"`, `"Nov 18, 2026, 11:44:31 AM PST"`, `"PST"`, "UTC offset", "export the log again with times in UTC"}},
		{"no zone", "Date", "2026-11-18 11:44:31",
			[]string{`line 1003, column "Date"`, `"2026-11-18 11:44:31"`, "no time zone", "export the log again", `rename the column "Date (UTC)"`}},
		{"abbreviation in a UTC column", "Date (UTC)", "2026-11-18 11:44:31 CET",
			[]string{`line 1003, column "Date (UTC)"`, `"CET"`, "export the log again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			text := "Event," + tt.header + ",Actor,App name,Client ID,Scope\n" + good.String() +
				fmt.Sprintf("Authorize,\"%s\",dave@acme.example,Notion,%s,openid\n", tt.value, notion) +
				fmt.Sprintf("Authorize,2026-11-19T08:00:00Z,erin@acme.example,Notion,%s,openid\n", notion)
			bad := filepath.Join(dir, "local_time.csv")
			writeFile(t, bad, []byte(text))

			st := openStore(t)
			empty := dump(t, st)
			_, err := runImport(t, st, NewFileImporter([]string{bad}))
			if err == nil {
				t.Fatal("import accepted the file")
			}
			for _, w := range append([]string{bad, "nothing from this file was imported"}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to say %q", err, w)
				}
			}
			if got := dump(t, st); got != empty {
				t.Errorf("the refused file stored rows:\n%s", got)
			}

			// Files before the refused one are imported; the import
			// stops at it, as for any file that cannot be read.
			st = openStore(t)
			if _, err := runImport(t, st, NewFileImporter(testFiles("token_audit.csv"))); err != nil {
				t.Fatal(err)
			}
			want := dump(t, st)
			st = openStore(t)
			if _, err := runImport(t, st, NewFileImporter(append(testFiles("token_audit.csv"), bad))); err == nil {
				t.Fatal("import accepted the file after a good one")
			}
			if got := dump(t, st); got != want {
				t.Errorf("store after a good file and a refused one:\n%s\nwant what the good file alone stores:\n%s", got, want)
			}
		})
	}
}
