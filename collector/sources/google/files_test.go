package google

import (
	"context"
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
