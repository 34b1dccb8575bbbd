//go:build unix

package privdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/testenv"
)

func TestCheckFileUnix(t *testing.T) {
	testenv.Missing(t, "Root", testenv.NotRoot("files owned by nobody"))
	// Each setup builds under root (a t.TempDir, 0700 and root's) and
	// returns the path to open; want is a piece of the error, "" for none.
	tests := []struct {
		name  string
		setup func(t *testing.T, root string) string
		want  string
	}{
		{name: "0600 root", setup: func(t *testing.T, root string) string { return file(t, root, "agent.yaml", 0o600, 0) }},
		{name: "0644 root", setup: func(t *testing.T, root string) string { return file(t, root, "agent.yaml", 0o644, 0) }},
		{name: "0400 root", setup: func(t *testing.T, root string) string { return file(t, root, "agent.yaml", 0o400, 0) }},
		{
			name:  "owned by nobody",
			setup: func(t *testing.T, root string) string { return file(t, root, "agent.yaml", 0o644, nobody) },
			want:  "agent.yaml is owned by uid 65534",
		},
		{
			name:  "group-writable",
			setup: func(t *testing.T, root string) string { return file(t, root, "agent.yaml", 0o664, 0) },
			want:  "agent.yaml is writable by group or others (mode 0664): the agent runs as root and will not trust it; chmod 600 and chown root",
		},
		{
			name:  "world-writable",
			setup: func(t *testing.T, root string) string { return file(t, root, "agent.yaml", 0o646, 0) },
			want:  "(mode 0646)",
		},
		{
			name: "parent 0777 without sticky",
			setup: func(t *testing.T, root string) string {
				return file(t, dir(t, root, "etc", 0o777, 0), "agent.yaml", 0o644, 0)
			},
			want: "which is writable by group or others (mode 0777), who could replace the file",
		},
		{
			name: "parent 0775",
			setup: func(t *testing.T, root string) string {
				return file(t, dir(t, root, "etc", 0o775, 0), "agent.yaml", 0o600, 0)
			},
			want: "(mode 0775)",
		},
		{
			name: "parent owned by nobody",
			setup: func(t *testing.T, root string) string {
				return file(t, dir(t, root, "etc", 0o755, nobody), "agent.yaml", 0o600, 0)
			},
			want: "which is owned by uid 65534",
		},
		{
			name: "sticky parent, root's file",
			setup: func(t *testing.T, root string) string {
				return file(t, dir(t, root, "tmp", fs.ModeSticky|0o777, 0), "agent.yaml", 0o644, 0)
			},
		},
		{
			name: "sticky parent, nobody's file",
			setup: func(t *testing.T, root string) string {
				return file(t, dir(t, root, "tmp", fs.ModeSticky|0o777, 0), "agent.yaml", 0o644, nobody)
			},
			want: "is owned by uid 65534",
		},
		{
			name: "sticky parent owned by nobody",
			setup: func(t *testing.T, root string) string {
				return file(t, dir(t, root, "tmp", fs.ModeSticky|0o777, nobody), "agent.yaml", 0o644, 0)
			},
			want: "which is owned by uid 65534",
		},
		{
			name: "root's directory in a sticky directory",
			setup: func(t *testing.T, root string) string {
				tmp := dir(t, root, "tmp", fs.ModeSticky|0o777, 0)
				return file(t, dir(t, tmp, "shadowmap", 0o755, 0), "agent.yaml", 0o600, 0)
			},
		},
		{
			name: "grandparent 0777 without sticky",
			setup: func(t *testing.T, root string) string {
				open := dir(t, root, "open", 0o777, 0)
				return file(t, dir(t, open, "shadowmap", 0o755, 0), "agent.yaml", 0o600, 0)
			},
			want: "/open, which is writable by group or others (mode 0777)",
		},
		{
			name: "root's link to a file in a world-writable directory",
			setup: func(t *testing.T, root string) string {
				target := file(t, dir(t, root, "open", 0o777, 0), "agent.yaml", 0o644, 0)
				return link(t, target, filepath.Join(dir(t, root, "etc", 0o755, 0), "agent.yaml"), 0)
			},
			want: "/open, which is writable by group or others",
		},
		{
			name: "root's link to a root-owned file",
			setup: func(t *testing.T, root string) string {
				target := file(t, dir(t, root, "opt", 0o755, 0), "agent.yaml", 0o644, 0)
				return link(t, target, filepath.Join(dir(t, root, "etc", 0o755, 0), "agent.yaml"), 0)
			},
		},
		{
			name: "nobody's link in a sticky directory to a root-owned file",
			setup: func(t *testing.T, root string) string {
				target := file(t, dir(t, root, "etc", 0o755, 0), "agent.yaml", 0o644, 0)
				return link(t, target, filepath.Join(dir(t, root, "tmp", fs.ModeSticky|0o777, 0), "agent.yaml"), nobody)
			},
			want: "is a link owned by uid 65534",
		},
		{
			name: "through nobody's link to a directory, in a sticky directory",
			setup: func(t *testing.T, root string) string {
				etc := dir(t, root, "etc", 0o755, 0)
				file(t, etc, "agent.yaml", 0o644, 0)
				l := link(t, etc, filepath.Join(dir(t, root, "tmp", fs.ModeSticky|0o777, 0), "conf"), nobody)
				return filepath.Join(l, "agent.yaml")
			},
			want: "/tmp/conf, which is owned by uid 65534",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			err = CheckFile(f)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckFile(%s) = %v, want nil", path, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckFile(%s) = nil, want an error with %q", path, tc.want)
			}
			if !errors.Is(err, ErrUntrusted) {
				t.Errorf("CheckFile error does not match ErrUntrusted: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), path+" ") {
				t.Errorf("CheckFile(%s) =\n%v\nwant it to start with the path and contain %q", path, err, tc.want)
			}
		})
	}
}

// TestCheckFileReplaced: the file judged is the one that was opened, and a
// path that now leads elsewhere is refused rather than half-checked.
func TestCheckFileReplaced(t *testing.T) {
	testenv.Missing(t, "Root", testenv.NotRoot("CheckFile checks only as root"))
	root := t.TempDir()
	path := file(t, root, "agent.yaml", 0o644, 0)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(file(t, root, "other.yaml", 0o644, 0), path); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(f); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "was replaced") {
		t.Fatalf("CheckFile = %v, want a replaced-file refusal", err)
	}
}

func file(t *testing.T, dir, name string, mode fs.FileMode, uid int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("collector_url: https://c.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	chown(t, path, uid)
	return path
}

func dir(t *testing.T, parent, name string, mode fs.FileMode, uid int) string {
	t.Helper()
	path := filepath.Join(parent, name)
	mkdirMode(t, path, mode)
	chown(t, path, uid)
	return path
}

func link(t *testing.T, target, path string, uid int) string {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
	return path
}
