//go:build windows

package privdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// assertPrivate checks that path has exactly the DACL restrict gives it,
// with nothing inherited from its parent, and that a file created in it
// inherits only those entries.
func assertPrivate(t *testing.T, path string) {
	t.Helper()
	user, privileged, err := caller()
	if err != nil {
		t.Fatal(err)
	}
	want := aces(windowsDACL(user, privileged))

	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	control, _, err := sd.Control()
	if err != nil {
		t.Fatal(err)
	}
	if control&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("%s: DACL is not protected: %s", path, sd)
	}
	if got := aces(sd.String()); !sameSet(got, want) {
		t.Errorf("%s: DACL entries %v, want %v", path, got, want)
	}

	file := filepath.Join(path, "probe.txt")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file)
	fsd, err := windows.GetNamedSecurityInfo(file, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	// A file inherits the entries without OI/CI and with ID (inherited).
	var wantFile []string
	for _, a := range want {
		wantFile = append(wantFile, strings.Replace(a, ";OICI;", ";ID;", 1))
	}
	if got := aces(fsd.String()); !sameSet(got, wantFile) {
		t.Errorf("%s: DACL entries %v, want %v", file, got, wantFile)
	}
}

// aces is the list of "(...)" entries of the D: part of an SDDL string.
func aces(sddl string) []string {
	_, d, ok := strings.Cut(sddl, "D:")
	if !ok {
		return nil
	}
	if i := strings.Index(d, "S:"); i >= 0 {
		d = d[:i]
	}
	var out []string
	for {
		start := strings.IndexByte(d, '(')
		end := strings.IndexByte(d, ')')
		if start < 0 || end < start {
			return out
		}
		out = append(out, d[start:end+1])
		d = d[end+1:]
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int)
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
