package sigcmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, DirFS: os.DirFS}
	err = Run(env, args)
	return out.String(), errb.String(), err
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".golden"), got)
}

func TestLintFixtureDirPasses(t *testing.T) {
	_, stderr, err := run(t, "lint", "../testdata/catalog")
	if err != nil {
		t.Fatalf("lint of the fixture catalog failed: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "ok: 4 apps") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestLintBrokenDirFailsWithFileLine(t *testing.T) {
	stdout, _, err := run(t, "lint", "../testdata/lint/conflicts/")
	if !errors.Is(err, ErrProblems) {
		t.Fatalf("err = %v, want ErrProblems", err)
	}
	checkGolden(t, "lint-conflicts", stdout)
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !strings.HasPrefix(line, "../testdata/lint/conflicts/") {
			t.Errorf("problem line %q does not start with the file path", line)
		}
	}
}

func TestLintEmbeddedPasses(t *testing.T) {
	if _, stderr, err := run(t, "lint"); err != nil {
		t.Fatalf("the embedded catalog does not lint: %v\n%s", err, stderr)
	}
}

func TestStatsJSON(t *testing.T) {
	stdout, _, err := run(t, "stats", "--json", "../testdata/catalog")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("stats --json is not JSON: %v\n%s", err, stdout)
	}
	for key, want := range map[string]float64{"apps": 4, "with_identity": 1, "with_mail": 3, "with_tenants": 2} {
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
}

func TestStatsText(t *testing.T) {
	stdout, _, err := run(t, "stats", "../testdata/catalog")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "stats-fixture", stdout)
}

func TestStatsOfBrokenCatalogFails(t *testing.T) {
	if _, _, err := run(t, "stats", "../testdata/lint/syntax"); err == nil {
		t.Fatal("stats of a broken catalog succeeded")
	}
}

func TestMatch(t *testing.T) {
	stdout, _, err := run(t, "match", "acme.slack.com", "d111.cloudfront.net", "www.example.com", "ACME.zendesk.com.", "", "\xff\tx", "bücher.example")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "match", stdout)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"match"}, {"lint", "a", "b"}, {"stats", "--nope"}} {
		if _, _, err := run(t, args...); err == nil {
			t.Errorf("Run(%q) succeeded", args)
		}
	}
}
