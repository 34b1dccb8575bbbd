package macpkg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// FuzzParseXar checks that parseXar never panics on outside bytes nor
// inflates an outsized TOC, and that an archive it accepts can have its
// creation time set: the result parses, and setting the same time again
// changes nothing. Seeds are in testdata/fuzz/FuzzParseXar, written by
// TestWriteFuzzSeeds from writeXar's output.
func FuzzParseXar(f *testing.F) {
	stamp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseXar(data)
		if err != nil {
			return
		}
		if len(a.rawTOC) > xarMaxTOC {
			t.Fatalf("TOC of %d bytes accepted", len(a.rawTOC))
		}
		fixed, err := setXarCreationTime(data, stamp)
		if err != nil {
			t.Fatalf("setXarCreationTime of an archive parseXar accepts: %v", err)
		}
		b, err := parseXar(fixed)
		if err != nil {
			t.Fatalf("parseXar after setXarCreationTime: %v", err)
		}
		if b.toc.CreationTime != "" && b.toc.CreationTime != "2026-01-02T03:04:05" {
			t.Errorf("creation time %q after setting it", b.toc.CreationTime)
		}
		again, err := setXarCreationTime(fixed, stamp)
		if err != nil || !bytes.Equal(again, fixed) {
			t.Errorf("setting the creation time twice gave different bytes (err %v)", err)
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzParseXar when the tests
// run with -update (the flag internal/golden defines). The seeds hold
// only a few small members, so each stays a few KB.
func TestWriteFuzzSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	needTools(t, "bsdtar")
	seeds := map[string][]member{
		"empty-file": {{name: "a"}},
		"package": {
			{name: "Distribution", data: []byte(`<?xml version="1.0"?><installer-gui-script minSpecVersion="2"/>` + "\n")},
			{name: componentName + "/", dir: true},
			{name: componentName + "/Bom", data: []byte("BOMStore\x00\x00\x00\x01")},
			{name: componentName + "/Payload", data: []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00")},
		},
		"nested": {
			{name: "d/", dir: true},
			{name: "d/e/", dir: true},
			{name: "d/e/f", data: []byte("<xar & \"toc\">")},
		},
	}
	for name, members := range seeds {
		out := filepath.Join(t.TempDir(), name+".xar")
		if err := writeXar(context.Background(), out, members, testTime); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		golden.WriteFuzzSeed(t, "FuzzParseXar", name, data)
	}
}
