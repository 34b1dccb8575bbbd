//go:build unix || windows

package privdir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMkdirAll(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, root string) // prepares root before the call
		path    string                          // relative to root
		wantErr bool
	}{
		{name: "new directory", path: "state"},
		{name: "nested parents", path: filepath.Join("a", "b", "state")},
		{
			name: "existing directory",
			setup: func(t *testing.T, root string) {
				mkdir(t, filepath.Join(root, "state"))
			},
			path: "state",
		},
		{
			name: "existing directory with files",
			setup: func(t *testing.T, root string) {
				mkdir(t, filepath.Join(root, "state"))
				writeFile(t, filepath.Join(root, "state", "status.json"))
			},
			path: "state",
		},
		{
			name: "file in the way",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "state"))
			},
			path:    "state",
			wantErr: true,
		},
		{
			name: "file in the way of a parent",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "a"))
			},
			path:    filepath.Join("a", "state"),
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, root)
			}
			path := filepath.Join(root, tc.path)
			err := MkdirAll(path)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("MkdirAll(%s) succeeded, want an error", path)
				}
				return
			}
			if err != nil {
				t.Fatalf("MkdirAll(%s): %v", path, err)
			}
			assertPrivate(t, path)
			// A second call finds the directory already private.
			if err := MkdirAll(path); err != nil {
				t.Fatalf("MkdirAll(%s) again: %v", path, err)
			}
			assertPrivate(t, path)
		})
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	// The umask may have narrowed the mode; the tests need it loose.
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
