package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentDependencies guards what ends up on employees' laptops: the
// agent never links the collector (except its wire types in collector/api),
// the web view, or the packaging code and its libraries (nfpm and what it
// pulls in), and it builds without cgo so it cross-compiles.
func TestAgentDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/shadowmap/shadowmap/"
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "runtime/cgo":
			t.Errorf("the agent links runtime/cgo; it must build with CGO_ENABLED=0")
		case strings.HasPrefix(p, mod+"collector") && !strings.HasPrefix(p, mod+"collector/api"):
			t.Errorf("the agent imports %s; only collector/api is allowed", p)
		case strings.HasPrefix(p, mod+"web"), strings.HasPrefix(p, mod+"installer"),
			strings.HasPrefix(p, "github.com/goreleaser/"):
			t.Errorf("the agent imports %s", p)
		}
	}
}
