package cpio

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// FuzzReadAll checks that ReadAll never panics and only allocates what
// the input holds, and that what it accepts survives a round trip: the
// Writer's archive of the entries it read reads back as the same entries.
// Seeds are in testdata/fuzz/FuzzReadAll, written by TestWriteFuzzSeeds.
func FuzzReadAll(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ReadAll(bytes.NewReader(data))
		if err != nil {
			return
		}
		size := 0
		for _, e := range entries {
			size += len(e.Name) + len(e.Data)
		}
		if size > len(data) {
			t.Fatalf("%d bytes of names and data from %d bytes", size, len(data))
		}
		var b bytes.Buffer
		w := NewWriter(&b)
		for _, e := range entries {
			if err := w.Add(e); err != nil {
				return // ReadAll also reads what the Writer refuses: links, devices, ...
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := ReadAll(&b)
		if err != nil {
			t.Fatalf("ReadAll of the Writer's archive: %v", err)
		}
		if !reflect.DeepEqual(again, entries) {
			t.Fatalf("read back %+v\nwrote %+v", again, entries)
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzReadAll with -update,
// from the Writer's output.
func TestWriteFuzzSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	seeds := map[string][]Entry{
		"empty":   nil,
		"sample":  sample(),
		"scripts": {{Name: ".", Mode: TypeDirectory | 0o755}, {Name: "./postinstall", Mode: TypeRegular | 0o755, ModTime: 1767323045, Data: []byte("#!/bin/sh\nexit 0\n")}},
		"binary":  {{Name: "./x", Mode: TypeRegular | 0o644, UID: 0o777777, GID: 0o777777, ModTime: 0o77777777777, Data: []byte("\x00\xff\r\n070707")}},
	}
	for name, entries := range seeds {
		golden.WriteFuzzSeed(t, "FuzzReadAll", name, write(t, entries))
	}
}
