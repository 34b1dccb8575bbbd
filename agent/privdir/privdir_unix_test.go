//go:build unix

package privdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/shadowmap/shadowmap/internal/testenv"
)

// nobody is the uid of the unprivileged account on Debian and macOS.
const nobody = 65534

func assertPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is %v, want a directory", path, fi.Mode())
	}
	if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != 0o700 {
		t.Errorf("%s has mode %v, want 0700", path, got)
	}
}

func TestMkdirAllUnix(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, path string)
		wantErr    bool
		wantMode   fs.FileMode // checked when no error; 0 means private (0700)
		asRootOnly bool
	}{
		{
			name:  "group and world bits removed",
			setup: func(t *testing.T, path string) { mkdirMode(t, path, 0o777) },
		},
		{
			name:  "setgid removed",
			setup: func(t *testing.T, path string) { mkdirMode(t, path, fs.ModeSetgid|0o750) },
		},
		{
			name:  "too tight for the owner widened",
			setup: func(t *testing.T, path string) { mkdirMode(t, path, 0o500) },
		},
		{
			name: "sticky shared directory refused",
			setup: func(t *testing.T, path string) {
				mkdirMode(t, path, fs.ModeSticky|0o777)
			},
			wantErr: true,
		},
		{
			name: "FIFO in the way",
			setup: func(t *testing.T, path string) {
				if err := syscall.Mkfifo(path, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: true,
		},
		{
			name: "own symlink to own directory",
			setup: func(t *testing.T, path string) {
				target := path + ".real"
				mkdirMode(t, target, 0o755)
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "owned by someone else",
			setup: func(t *testing.T, path string) {
				mkdirMode(t, path, 0o755)
				chown(t, path, nobody)
			},
			wantErr:    true,
			asRootOnly: true,
		},
		{
			name: "own symlink to someone else's directory",
			setup: func(t *testing.T, path string) {
				target := path + ".real"
				mkdirMode(t, target, 0o755)
				chown(t, target, nobody)
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
			},
			wantErr:    true,
			asRootOnly: true,
		},
		{
			name: "someone else's symlink to own directory",
			setup: func(t *testing.T, path string) {
				target := path + ".real"
				mkdirMode(t, target, 0o755)
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
				if err := os.Lchown(path, nobody, nobody); err != nil {
					t.Fatal(err)
				}
			},
			wantErr:    true,
			asRootOnly: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.asRootOnly {
				testenv.Missing(t, "Root", testenv.NotRoot("chown to nobody"))
			}
			// t.TempDir is 0700 and owned by the test, so nobody cannot
			// reach into it and change what the test set up.
			path := filepath.Join(t.TempDir(), "state")
			tc.setup(t, path)
			before, _ := os.Lstat(path)
			err := MkdirAll(path)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("MkdirAll succeeded, want an error")
				}
				// A refused directory is left as it was.
				after, _ := os.Lstat(path)
				if before != nil && after != nil && before.Mode() != after.Mode() {
					t.Errorf("mode changed from %v to %v on a refused directory", before.Mode(), after.Mode())
				}
				return
			}
			if err != nil {
				t.Fatalf("MkdirAll: %v", err)
			}
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				t.Fatal(err)
			}
			assertPrivate(t, real)
		})
	}
}

func TestForeignOwnerError(t *testing.T) {
	testenv.Missing(t, "Root", testenv.NotRoot("chown to nobody"))
	path := filepath.Join(t.TempDir(), "state")
	mkdirMode(t, path, 0o755)
	chown(t, path, nobody)
	err := MkdirAll(path)
	if !errors.Is(err, ErrForeignOwner) {
		t.Fatalf("MkdirAll = %v, want ErrForeignOwner", err)
	}
	t.Log(err)
}

func mkdirMode(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}
