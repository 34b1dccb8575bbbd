package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector/digest"
)

// TestDigestPreviewCommand renders the digest of a configured collector's
// database as `shadowmap digest preview` does.
func TestDigestPreviewCommand(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "shadowmap.yaml")
	if err := os.WriteFile(cfgFile, []byte("database: "+filepath.Join(dir, "shadowmap.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	cmd := digest.Command(digest.CommandEnv{Stdout: &stdout, Stderr: &stderr, Open: DigestOpener(nil)})
	if err := cmd.Run([]string{"preview", "--config", cfgFile, "--week", "2026-W47"}); err != nil {
		t.Fatalf("digest preview: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "<html") || !strings.Contains(out, "2026-W47") {
		t.Errorf("preview of an empty collector: %.300q", out)
	}
}
