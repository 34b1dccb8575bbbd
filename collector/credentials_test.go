package collector

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteCredentialFile: keys that could leave the directory are
// refused, sizes are capped, and a rewrite replaces the value in place.
func TestWriteCredentialFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "credentials")
	for _, key := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a b"} {
		if _, err := WriteCredentialFile(dir, key, []byte("v")); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	for _, v := range [][]byte{nil, make([]byte, MaxCredentialBytes+1)} {
		if _, err := WriteCredentialFile(dir, CredentialOktaToken, v); err == nil {
			t.Errorf("a value of %d bytes accepted", len(v))
		}
	}
	for _, v := range []string{"first", "second"} {
		p, err := WriteCredentialFile(dir, MailboxCredential("ap-inbox"), []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ReadCredentialFile(p); err != nil || string(got) != v {
			t.Errorf("read back %q, %v; want %q", got, err, v)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want 1", len(entries))
	}
}
