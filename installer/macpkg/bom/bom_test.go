package bom

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/testenv"
)

func dir(p string) Entry { return Entry{Path: p, Mode: TypeDirectory | 0o755, ModTime: 1700000000} }

func file(p string, data string, mode uint32) Entry {
	return Entry{Path: p, Mode: TypeRegular | mode, UID: 0, GID: 0, ModTime: 1700000000,
		Size: uint32(len(data)), Checksum: Checksum([]byte(data))}
}

func TestRoundTrip(t *testing.T) {
	exe := file("./usr/local/bin/agent", "not really mach-o", 0o755)
	exe.Arches = []Arch{{CPUType: 0x01000007, CPUSubtype: 3, Size: 10, Checksum: 1}, {CPUType: 0x0100000c, CPUSubtype: 0, Size: 7, Checksum: 2}}
	many := []Entry{dir("."), dir("./d")}
	for i := range 600 {
		many = append(many, file(fmt.Sprintf("./d/f%03d", i), strconv.Itoa(i), 0o644))
	}
	tests := []struct {
		name    string
		entries []Entry
		want    []string // paths in Bom order
		info    []InfoEntry
	}{
		{"empty", nil, nil, nil},
		{"root only", []Entry{dir(".")}, []string{"."}, []InfoEntry{{0, 0}}},
		{
			"package payload, given out of order",
			[]Entry{
				exe, dir("./usr/local/bin"), dir("."), dir("./usr/local"), dir("./usr"),
				dir("./Library"), dir("./Library/LaunchDaemons"),
				file("./Library/LaunchDaemons/agent.plist", "<plist/>", 0o644),
			},
			[]string{".", "./Library", "./usr", "./Library/LaunchDaemons", "./usr/local",
				"./Library/LaunchDaemons/agent.plist", "./usr/local/bin", "./usr/local/bin/agent"},
			[]InfoEntry{{0, 8}, {0x01000007, 10}, {0x0100000c, 7}},
		},
		{"several leaves", many, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.entries); err != nil {
				t.Fatal(err)
			}
			b, err := Read(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"BomInfo", "Paths", "HLIndex", "VIndex", "Size64"}; !reflect.DeepEqual(b.Variables, want) {
				t.Errorf("variables = %v, want %v", b.Variables, want)
			}
			if len(b.Entries) != len(tt.entries) || int(b.InfoPaths) != len(tt.entries) {
				t.Fatalf("read %d entries (BomInfo says %d), wrote %d", len(b.Entries), b.InfoPaths, len(tt.entries))
			}
			byPath := map[string]Entry{}
			for _, e := range tt.entries {
				byPath[e.Path] = e
			}
			var got []string
			for _, e := range b.Entries {
				got = append(got, e.Path)
				if !reflect.DeepEqual(e, byPath[e.Path]) {
					t.Errorf("read %+v, wrote %+v", e, byPath[e.Path])
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
			if tt.info != nil && !reflect.DeepEqual(b.Info, tt.info) {
				t.Errorf("BomInfo = %v, want %v", b.Info, tt.info)
			}
			var again bytes.Buffer
			if err := Write(&again, tt.entries); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Errorf("a second Write gave different bytes (err %v)", err)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"no root", []Entry{dir("./a")}, "not listed"},
		{"missing parent", []Entry{dir("."), file("./a/b", "", 0o644)}, `"./a" is not listed`},
		{"parent is a file", []Entry{dir("."), file("./a", "", 0o644), file("./a/b", "", 0o644)}, "not listed as a directory"},
		{"duplicate", []Entry{dir("."), dir("./a"), dir("./a")}, "twice"},
		{"absolute", []Entry{dir("."), dir("/a")}, "clean relative path"},
		{"dot dot", []Entry{dir("."), dir("./../a")}, "clean relative path"},
		{"unclean", []Entry{dir("."), dir("./a//b")}, "clean relative path"},
		{"symlink", []Entry{dir("."), {Path: "./l", Mode: 0o120777}}, "only regular files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.entries)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, []Entry{dir("."), file("./a", "x", 0o644)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not a bom", []byte(strings.Repeat("x", 600))},
		{"truncated", good.Bytes()[:len(good.Bytes())-20]},
		{"header only", good.Bytes()[:512]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Read(tt.data); err == nil {
				t.Error("Read accepted it")
			}
		})
	}
}

// TestChecksumMatchesCksum compares Checksum with the cksum program, the
// definition of the value Boms record.
func TestChecksumMatchesCksum(t *testing.T) {
	if _, err := exec.LookPath("cksum"); err != nil {
		testenv.Missing(t, "Packaging", "cksum is not installed")
	}
	dir := t.TempDir()
	for i, data := range []string{"", "a", "hello\n", strings.Repeat("shadowmap", 1000), string(make([]byte, 70000))} {
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("cksum", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		want, err := strconv.ParseUint(strings.Fields(string(out))[0], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		if got := Checksum([]byte(data)); got != uint32(want) {
			t.Errorf("Checksum(%d bytes) = %d, cksum says %d", len(data), got, want)
		}
	}
}
