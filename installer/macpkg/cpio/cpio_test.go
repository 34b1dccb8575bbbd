package cpio

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/testenv"
)

func sample() []Entry {
	return []Entry{
		{Name: ".", Mode: TypeDirectory | 0o755, ModTime: 1700000000},
		{Name: "./bin", Mode: TypeDirectory | 0o755, ModTime: 1700000000},
		{Name: "./bin/tool", Mode: TypeRegular | 0o755, UID: 0, GID: 0, ModTime: 1700000000, Data: []byte("#!/bin/sh\necho hi\n")},
		{Name: "./readme", Mode: TypeRegular | 0o644, UID: 501, GID: 20, ModTime: 1700000001, Data: []byte("hello")},
		{Name: "./empty", Mode: TypeRegular | 0o600, ModTime: 1700000002},
	}
}

func write(t *testing.T, entries []Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	got, err := ReadAll(bytes.NewReader(write(t, sample())))
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	for i := range want {
		if want[i].Data == nil {
			want[i].Data = []byte{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v\nwant %+v", got, want)
	}
}

// TestToolsRead checks the archive with GNU cpio (which names the format
// "odc") and bsdtar, the reader the package tests use.
func TestToolsRead(t *testing.T) {
	for _, tool := range []string{"cpio", "bsdtar"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "Packaging", tool+" is not installed")
		}
	}
	archive := filepath.Join(t.TempDir(), "a.cpio")
	if err := os.WriteFile(archive, write(t, sample()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("cpio", "-itvn", "--quiet", "-H", "odc", "-F", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -it: %v\n%s", err, out)
	}
	for _, want := range []string{"drwxr-xr-x", "-rwxr-xr-x   1 0        0              18", "./bin/tool", "-rw-r--r--   1 501      20              5", "./readme"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("cpio -itv output lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("bsdtar", "-xpf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("bsdtar -x: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bin/tool"))
	if err != nil || string(data) != "#!/bin/sh\necho hi\n" {
		t.Errorf("extracted bin/tool = %q, %v", data, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin/tool"))
	if err != nil || fi.Mode().Perm() != 0o755 || fi.ModTime().Unix() != 1700000000 {
		t.Errorf("extracted bin/tool: %v, %v", fi, err)
	}
}

func TestAddRejects(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{"symlink", Entry{Name: "./l", Mode: 0o120777}, "only regular files"},
		{"directory with data", Entry{Name: "./d", Mode: TypeDirectory | 0o755, Data: []byte("x")}, "no data"},
		{"empty name", Entry{Mode: TypeRegular | 0o644}, "invalid name"},
		{"trailer name", Entry{Name: "TRAILER!!!", Mode: TypeRegular | 0o644}, "invalid name"},
		{"uid too large", Entry{Name: "./f", Mode: TypeRegular | 0o644, UID: 1 << 20}, "does not fit"},
		{"negative mtime", Entry{Name: "./f", Mode: TypeRegular | 0o644, ModTime: -1}, "does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewWriter(&bytes.Buffer{}).Add(tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	w := NewWriter(&bytes.Buffer{})
	_ = w.Close()
	if err := w.Add(sample()[0]); err == nil {
		t.Error("Add after Close succeeded")
	}
}

func TestReadAllRejects(t *testing.T) {
	good := write(t, sample())
	for name, data := range map[string][]byte{
		"empty":      nil,
		"newc":       []byte("070701" + strings.Repeat("0", 200)),
		"no trailer": good[:len(good)-90],
	} {
		if _, err := ReadAll(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: ReadAll accepted it", name)
		}
	}
}
