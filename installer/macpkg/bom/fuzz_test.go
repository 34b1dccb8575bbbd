package bom

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// FuzzRead checks that Read never panics on outside bytes, and that what
// it accepts survives a round trip: Write of the entries it read, read
// back, lists the same entries. Seeds are in testdata/fuzz/FuzzRead,
// written by TestWriteFuzzSeeds.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(data)
		if err != nil {
			return
		}
		// Each entry costs the file at least a block table slot.
		if len(b.Entries)*8 > len(data) {
			t.Fatalf("%d entries from %d bytes", len(b.Entries), len(data))
		}
		var w bytes.Buffer
		if err := Write(&w, b.Entries); err != nil {
			return // Read is more lenient than Write: names with "/", no root, ...
		}
		again, err := Read(w.Bytes())
		if err != nil {
			t.Fatalf("Read(Write(entries)): %v", err)
		}
		if len(again.Entries) != len(b.Entries) || int(again.InfoPaths) != len(b.Entries) {
			t.Fatalf("wrote %d entries, read back %d (BomInfo %d)", len(b.Entries), len(again.Entries), again.InfoPaths)
		}
		byPath := map[string]Entry{}
		for _, e := range b.Entries {
			byPath[e.Path] = e
		}
		for _, e := range again.Entries {
			if want := byPath[e.Path]; !reflect.DeepEqual(e, want) {
				t.Errorf("read back %+v, wrote %+v", e, want)
			}
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzRead with -update, from
// Write's output. Write pads tree nodes to 4096 bytes and the header to
// 512; the seeds drop the padding (Read does not need it) so each stays a
// few KB.
func TestWriteFuzzSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	exe := file("./usr/local/bin/agent", "\xcf\xfa\xed\xfe not really", 0o755)
	exe.Arches = []Arch{{CPUType: 0x01000007, CPUSubtype: 3, Size: 10, Checksum: 1}, {CPUType: 0x0100000c, CPUSubtype: 0, Size: 7, Checksum: 2}}
	thin := file("./agent", "\xcf\xfa\xed\xfe", 0o755)
	thin.Arches = []Arch{{CPUType: 0x0100000c, Size: 4, Checksum: 3}}
	seeds := map[string][]Entry{
		"empty":     nil,
		"root-only": {dir(".")},
		"thin":      {dir("."), thin, file("./b", "b", 0o600)},
		"payload": {
			dir("."), dir("./usr"), dir("./usr/local"), dir("./usr/local/bin"), exe,
			dir("./Library"), dir("./Library/LaunchDaemons"), file("./Library/LaunchDaemons/agent.plist", "<plist/>", 0o644),
		},
	}
	for name, entries := range seeds {
		var b bytes.Buffer
		if err := Write(&b, entries); err != nil {
			t.Fatal(err)
		}
		seed := compact(t, b.Bytes())
		if _, err := Read(seed); err != nil {
			t.Fatalf("%s: compacted Bom does not read: %v", name, err)
		}
		golden.WriteFuzzSeed(t, "FuzzRead", name, seed)
	}
}

// compact lays out a Bom again with a 32-byte header and its tree nodes
// cut to the entries they hold.
func compact(t *testing.T, data []byte) []byte {
	t.Helper()
	r, err := newReader(data)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	var s store
	s.blocks = [][]byte{nil}
	for i := 1; i < len(r.table); i++ {
		blk, err := r.block(uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(blk) == bigBlock || len(blk) == smallBlock {
			blk = blk[:nodeHeaderSize+8*int(be.Uint16(blk[2:]))]
		}
		s.add(blk)
	}
	s.vars = r.vars
	full := s.bytes()
	// Move everything after the header up to offset 32 and fix the
	// offsets, which all point past the header.
	const hdr = 32
	shift := uint32(headerSize - hdr)
	out := append(bytes.Clone(full[:hdr]), full[headerSize:]...)
	for _, off := range []int{16, 24} {
		be.PutUint32(out[off:], be.Uint32(out[off:])-shift)
	}
	table := out[be.Uint32(out[16:]):]
	for i := range be.Uint32(table) {
		if p := table[4+8*i:]; be.Uint32(p) != 0 {
			be.PutUint32(p, be.Uint32(p)-shift)
		}
	}
	return out
}
