package entra

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/internal/golden"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// reorderCSV writes the export with its columns reversed, as a
// spreadsheet that moved them would.
func reorderCSV(t testing.TB, data []byte) []byte {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	for _, rec := range recs {
		slices.Reverse(rec)
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return out.Bytes()
}

func utf16LE(t testing.TB, data []byte) []byte {
	t.Helper()
	out, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func windows1252(t testing.TB, data []byte) []byte {
	t.Helper()
	out, err := charmap.Windows1252.NewEncoder().Bytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func importFiles(t testing.TB, h *harness, paths ...string) error {
	t.Helper()
	_, err := h.runner.Run(context.Background(), NewFileImporter(paths), nil)
	return err
}

func TestFileImport(t *testing.T) {
	csvData := readFixture(t, "signins-export.csv")
	// A display name with accents, so the encodings differ from ASCII.
	accented := bytes.ReplaceAll(csvData, []byte("Alice Martin"), []byte("Alicia Núñez"))
	page := readFixture(t, "signins-page.json")
	var p struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(page, &p); err != nil {
		t.Fatal(err)
	}
	array, err := json.Marshal(p.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		csv  []byte
		json []byte
	}{
		{"portal export", csvData, page},
		{"columns reordered, JSON array", reorderCSV(t, csvData), array},
		{"UTF-8 with a BOM", append([]byte{0xEF, 0xBB, 0xBF}, accented...), append([]byte{0xEF, 0xBB, 0xBF}, page...)},
		{"UTF-16 with a BOM", utf16LE(t, accented), page},
		{"Windows-1252", windows1252(t, accented), page},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			paths := []string{writeTemp(t, "InteractiveSignIns_2026-11-20_2026-11-25.csv", tc.csv), writeTemp(t, "signins.json", tc.json)}
			if err := importFiles(t, h, paths...); err != nil {
				t.Fatal(err)
			}
			got := summary(t, h.store)
			golden.Check(t, filepath.Join("testdata", "files.golden"), got)
			if err := importFiles(t, h, paths...); err != nil {
				t.Fatal(err)
			}
			if again := summary(t, h.store); again != got {
				t.Errorf("importing the files again changed the store:\n%s", again)
			}
		})
	}
}

// TestFileThenAPI: a sign-in read from an export and again from Graph is
// one row; the API adds what files cannot know (apps mapped through their
// service principal's URLs) and nothing else.
func TestFileThenAPI(t *testing.T) {
	h := newHarness(t)
	if err := importFiles(t, h, writeTemp(t, "a.csv", readFixture(t, "signins-export.csv")), writeTemp(t, "b.json", readFixture(t, "signins-page.json"))); err != nil {
		t.Fatal(err)
	}
	fromFiles := summary(t, h.store)
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	want := cleanSummary(t)
	if got := summary(t, h.store); got != want {
		t.Errorf("files then API differ from the API alone:\n%s", got)
	}
	for _, line := range strings.Split(strings.TrimSpace(fromFiles), "\n") {
		if !strings.Contains(want, line) {
			t.Errorf("file row not in the API import: %s", line)
		}
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, data, want string
	}{
		{"legacy export without request ids", "old.csv", "CreatedDateTime,UserPrincipalName,UserDisplayName,AppDisplayName,Status\n3/12/2025 7:22:01 AM,a@contoso.com,A,Slack,Success\n", `missing column "Request ID"`},
		{"empty csv", "empty.csv", "", "the file is empty"},
		{"truncated json", "cut.json", `{"value":[{"id":"1","createdDateTime":"2026-11-20T06:20:09Z"`, "not a Graph sign-ins JSON export"},
		{"json of another kind", "other.json", `{"value": 3}`, "not a Graph sign-ins JSON export"},
		{"missing file", "", "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			path := filepath.Join(t.TempDir(), "missing.csv")
			if tc.file != "" {
				path = writeTemp(t, tc.file, []byte(tc.data))
			}
			// A good file next to the bad one is still imported.
			good := writeTemp(t, "good.json", readFixture(t, "signins-page.json"))
			err := importFiles(t, h, path, good)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "entra file "+path) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !strings.Contains(summary(t, h.store), "sso_login") {
				t.Error("the good file was not imported")
			}
		})
	}
}

func TestFileBadRows(t *testing.T) {
	data := "Date (UTC),Request ID,Username,Application,Application ID ,Sign-in error code,Status\n" +
		"2026-11-20T06:20:09Z,r1,alice@contoso.com,Slack,,0,Success\n" +
		"2026-11-20T06:20:09Z,,alice@contoso.com,Slack,,0,Success\n" + // no id
		"not a date,r3,alice@contoso.com,Slack,,0,Success\n" +
		"2026-11-20T07:00:00Z,r4,bob@contoso.com,Slack,,x1,Success\n" + // bad code
		"2026-11-20T08:00:00Z,r5,carol@contoso.com,Slack\n" + // short row: no code, no status
		"2026-11-20T09:00:00Z,r6,dave@contoso.com,Zoom,,,Success\n"
	h := newHarness(t)
	run, err := h.runner.Run(context.Background(), NewFileImporter([]string{writeTemp(t, "rows.csv", []byte(data))}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Events != 6 || run.Imported != 2 {
		t.Errorf("events %d imported %d, want 6 and 2", run.Events, run.Imported)
	}
	got := summary(t, h.store)
	for _, want := range []string{"slack alice@contoso.com entra:r1", "zoom dave@contoso.com entra:r6"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}

func TestFileImporterName(t *testing.T) {
	var imp sources.Importer = NewFileImporter(nil)
	if imp.Name() != Name {
		t.Errorf("name %q", imp.Name())
	}
}
