package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/internal/testcert"
)

// writeFile writes content to dir/name with mode and returns the path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeKeyPair writes a self-signed certificate and its key, valid from
// notBefore to notAfter, as PEM files with mode 0600.
func writeKeyPair(t *testing.T, dir, prefix string, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, _ = testcert.Write(t, dir, prefix, notBefore, notAfter)
	return certFile, keyFile
}

// validPair writes a key pair valid now.
func validPair(t *testing.T, dir, prefix string) (certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	return writeKeyPair(t, dir, prefix, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// mustLoad loads or fails the test.
func mustLoad(t *testing.T, path string, env, args []string) Config {
	t.Helper()
	cfg, err := Load(path, env, args)
	if err != nil {
		t.Fatalf("Load(%q, %q, %q): %v", path, env, args, err)
	}
	return cfg
}

// hasWarning reports whether a warning contains sub.
func hasWarning(cfg Config, sub string) bool {
	for _, w := range cfg.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// Secrets used in tests: long enough to be valid, distinct enough to find.
const (
	secretA = "secret-aaaaaaaaaaaaaaaaaaaaaaaa-A"
	secretB = "secret-bbbbbbbbbbbbbbbbbbbbbbbb-B"
	secretC = "secret-cccccccccccccccccccccccc-C"
	tokenA  = "token-aaaaaaaaaaaaaaaaaaaaaaaaa-A"
	tokenB  = "token-bbbbbbbbbbbbbbbbbbbbbbbbb-B"
)
