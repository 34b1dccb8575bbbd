// Package golden compares test output with golden files kept in testdata,
// and rewrites them when tests run with -update.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Check compares got with the file at path. With -update it writes got to
// the file first, so a reviewer sees the change in the diff.
func Check(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// Updating reports whether the tests run with -update, for tests that
// regenerate other files than golden ones (fuzz seed corpora).
func Updating() bool { return *update }

// WriteFuzzSeed writes one seed of a fuzz target's corpus,
// testdata/fuzz/<target>/<name>, in the `go test fuzz v1` format. values
// are the fuzz function's arguments, in order: []byte, string, bool, and
// the sized and unsized integer types.
func WriteFuzzSeed(t testing.TB, target, name string, values ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			t.Fatalf("fuzz seed %s/%s: no corpus encoding for %T", target, name, v)
		}
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
