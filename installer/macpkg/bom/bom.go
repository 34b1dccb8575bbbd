// Package bom writes and reads Apple's bill-of-materials files (the
// "BOMStore" format): the Bom inside a flat package's component package,
// which Installer turns into the package receipt that `pkgutil --files`
// and `lsbom` list.
//
// Apple never documented the format. What this package writes follows the
// layout Apple's mkbom produces, as described by public reverse-engineering
// notes (bomutils, stuckliste): a 512-byte header, data blocks addressed
// through a block table, named blocks ("variables") BomInfo, Paths,
// HLIndex, VIndex and Size64, and B-trees whose nodes fill fixed-size
// blocks. All integers are big-endian.
package bom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/shadowmap/shadowmap/installer/macpkg/cpio"
)

// File type bits of Entry.Mode, as in st_mode: the Payload's, so an
// entry's mode goes into both unchanged.
const (
	TypeRegular          = cpio.TypeRegular
	TypeDirectory        = cpio.TypeDirectory
	typeMask      uint32 = 0o170000
)

// Entry is one path the Bom lists.
type Entry struct {
	// Path is "." for the install location and "./a/b" below it, as in
	// the Payload's cpio archive.
	Path     string
	Mode     uint32 // type bits and permissions
	UID, GID uint32
	ModTime  uint32 // Unix seconds
	Size     uint32
	// Checksum is the file's POSIX cksum CRC (see Checksum); zero for
	// directories.
	Checksum uint32
	// Arches lists the Mach-O slices of an executable: one for a thin
	// binary, one per architecture for a universal one. Empty for other
	// files.
	Arches []Arch
}

// Arch is one Mach-O slice of an executable.
type Arch struct {
	CPUType, CPUSubtype uint32
	Size                uint32
	Checksum            uint32 // Checksum of the slice's bytes
}

// InfoEntry is BomInfo's per-architecture total: the size of the slices
// for CPUType, or of the other files for CPUType 0.
type InfoEntry struct {
	CPUType uint32
	Size    uint32
}

// Bom is what Read finds in a Bom file.
type Bom struct {
	Entries   []Entry // in the file's order
	Variables []string
	Info      []InfoEntry
	// InfoPaths is BomInfo's path count.
	InfoPaths uint32
}

// Layout constants. Paths, HLIndex use 4096-byte tree nodes, VIndex and
// Size64 128-byte ones, as Apple's BOMs do.
const (
	headerSize     = 512
	bigBlock       = 4096
	smallBlock     = 128
	leafCapacity   = 256 // entries per Paths leaf; (4096-12)/8 would fit 510
	nodeHeaderSize = 12
	flagsFull      = 0x000f // a full Bom, not a paths-only one (mkbom -s)
	binaryThin     = 1
	binaryFat      = 2
	entryFile      = 1
	entryDirectory = 2
)

// Write writes a Bom listing entries. Every entry's parent directory must
// be listed too, up to ".". Entries may come in any order: the Bom lists
// them breadth first, each directory's children by name, as mkbom does.
func Write(w io.Writer, entries []Entry) error {
	ordered, parents, err := order(entries)
	if err != nil {
		return fmt.Errorf("bom: %w", err)
	}
	var s store
	s.blocks = [][]byte{nil} // block 0 is the null block

	// BomInfo: the path count and per-CPU totals.
	var info []InfoEntry
	add := func(cpu, size uint32) {
		for i := range info {
			if info[i].CPUType == cpu {
				info[i].Size += size
				return
			}
		}
		info = append(info, InfoEntry{CPUType: cpu, Size: size})
	}
	for _, e := range ordered {
		if len(e.Arches) == 0 {
			add(0, e.Size)
			continue
		}
		for _, a := range e.Arches {
			add(a.CPUType, a.Size)
		}
	}
	var b bytes.Buffer
	put(&b, uint32(1), uint32(len(ordered)), uint32(len(info)))
	for _, ie := range info {
		put(&b, ie.CPUType, uint32(0), ie.Size, uint32(0))
	}
	s.variable("BomInfo", s.add(b.Bytes()))

	// Paths: one leaf per leafCapacity entries, under a branch node when
	// there is more than one leaf.
	type pair struct{ key, value uint32 }
	var leaves [][]pair
	for i, e := range ordered {
		meta, err := metadata(e)
		if err != nil {
			return fmt.Errorf("bom: %w", err)
		}
		b.Reset()
		put(&b, uint32(i+1), s.add(meta))
		key := s.add(b.Bytes())
		b.Reset()
		put(&b, parents[i])
		b.WriteString(path.Base(e.Path))
		b.WriteByte(0)
		value := s.add(b.Bytes())
		if i%leafCapacity == 0 {
			leaves = append(leaves, nil)
		}
		leaves[len(leaves)-1] = append(leaves[len(leaves)-1], pair{key, value})
	}
	if len(leaves) == 0 {
		leaves = append(leaves, nil)
	}
	leafIDs := make([]uint32, len(leaves))
	for i := range leaves {
		leafIDs[i] = s.add(nil) // reserved, filled below once neighbours are known
	}
	node := func(leaf bool, next, prev uint32, pairs []pair, size int) []byte {
		var nb bytes.Buffer
		isLeaf := uint16(0)
		if leaf {
			isLeaf = 1
		}
		put(&nb, isLeaf, uint16(len(pairs)), next, prev)
		for _, p := range pairs {
			put(&nb, p.key, p.value)
		}
		return pad(nb.Bytes(), size)
	}
	var branch []pair
	for i, pairs := range leaves {
		var next, prev uint32
		if i+1 < len(leaves) {
			next = leafIDs[i+1]
		}
		if i > 0 {
			prev = leafIDs[i-1]
		}
		s.blocks[leafIDs[i]] = node(true, next, prev, pairs, bigBlock)
		if len(pairs) > 0 {
			branch = append(branch, pair{leafIDs[i], pairs[len(pairs)-1].value})
		}
	}
	root := leafIDs[0]
	if len(leaves) > 1 {
		if len(branch) > (bigBlock-nodeHeaderSize)/8 {
			return fmt.Errorf("bom: %d paths need more than one branch node, which this writer does not build", len(ordered))
		}
		root = s.add(node(false, 0, 0, branch, bigBlock))
	}
	s.variable("Paths", s.add(tree(root, bigBlock, uint32(len(ordered)))))

	// Hard links, virtual paths and 64-bit sizes: none, but Installer and
	// lsbom expect the (empty) trees to be there.
	empty := func(size int) uint32 { return s.add(node(true, 0, 0, nil, size)) }
	s.variable("HLIndex", s.add(tree(empty(bigBlock), bigBlock, 0)))
	b.Reset()
	put(&b, uint32(1), s.add(tree(empty(smallBlock), smallBlock, 0)), uint32(0), uint8(1))
	s.variable("VIndex", s.add(b.Bytes()))
	s.variable("Size64", s.add(tree(empty(smallBlock), smallBlock, 0)))

	if _, err := w.Write(s.bytes()); err != nil {
		return fmt.Errorf("bom: write: %w", err)
	}
	return nil
}

// order checks entries and sorts them breadth first, returning each
// entry's parent's 1-based position (0 for ".").
func order(entries []Entry) ([]Entry, []uint32, error) {
	byPath := make(map[string]Entry, len(entries))
	children := map[string][]string{}
	for _, e := range entries {
		if !validPath(e.Path) {
			return nil, nil, fmt.Errorf("path %q: want \".\" or \"./\" followed by a clean relative path", e.Path)
		}
		if _, dup := byPath[e.Path]; dup {
			return nil, nil, fmt.Errorf("path %q is listed twice", e.Path)
		}
		switch e.Mode & typeMask {
		case TypeRegular, TypeDirectory:
		default:
			return nil, nil, fmt.Errorf("path %q: only regular files and directories are supported (mode %o)", e.Path, e.Mode)
		}
		byPath[e.Path] = e
		if e.Path != "." {
			dir := parent(e.Path)
			children[dir] = append(children[dir], e.Path)
		}
	}
	for _, e := range entries {
		if e.Path == "." {
			continue
		}
		dir := parent(e.Path)
		if d, ok := byPath[dir]; !ok || d.Mode&typeMask != TypeDirectory {
			return nil, nil, fmt.Errorf("path %q: its directory %q is not listed as a directory", e.Path, dir)
		}
	}
	if len(entries) == 0 {
		return nil, nil, nil
	}
	if _, ok := byPath["."]; !ok {
		return nil, nil, errors.New(`the root "." is not listed`)
	}
	ordered := []Entry{byPath["."]}
	parents := []uint32{0}
	for i := 0; i < len(ordered); i++ {
		kids := children[ordered[i].Path]
		sort.Strings(kids)
		for _, k := range kids {
			ordered = append(ordered, byPath[k])
			parents = append(parents, uint32(i+1))
		}
	}
	return ordered, parents, nil
}

// parent is the directory of a valid path other than ".".
func parent(p string) string {
	d := path.Dir(p[2:])
	if d == "." {
		return "."
	}
	return "./" + d
}

// validPath accepts "." and "./" followed by a clean relative path.
func validPath(p string) bool {
	if p == "." {
		return true
	}
	rest, ok := strings.CutPrefix(p, "./")
	return ok && rest != "" && path.Clean(rest) == rest && rest != "." && rest != ".." && !strings.HasPrefix(rest, "../")
}

// metadata encodes an entry's stat-like record (mkbom's "BOMPathInfo2").
func metadata(e Entry) ([]byte, error) {
	var b bytes.Buffer
	typ := uint8(entryFile)
	if e.Mode&typeMask == TypeDirectory {
		typ = entryDirectory
		if len(e.Arches) > 0 {
			return nil, fmt.Errorf("path %q: a directory has no Mach-O slices", e.Path)
		}
	}
	flags := uint16(flagsFull)
	switch {
	case len(e.Arches) == 1:
		flags |= binaryThin << 12
	case len(e.Arches) > 1:
		flags |= binaryFat << 12
	}
	put(&b, typ, uint8(1), flags, uint16(e.Mode), e.UID, e.GID, e.ModTime, e.Size, uint8(1))
	if typ == entryFile {
		put(&b, e.Checksum)
		if len(e.Arches) > 0 {
			put(&b, uint8(1), uint32(len(e.Arches)))
			for _, a := range e.Arches {
				put(&b, a.CPUType, a.CPUSubtype, a.Size, a.Checksum)
			}
		}
	}
	b.Write(make([]byte, 8))
	return b.Bytes(), nil
}

func tree(root uint32, blockSize int, count uint32) []byte {
	var b bytes.Buffer
	b.WriteString("tree")
	put(&b, uint32(1), root, uint32(blockSize), count, uint8(0))
	return b.Bytes()
}

func pad(b []byte, size int) []byte {
	if len(b) >= size {
		return b
	}
	return append(b, make([]byte, size-len(b))...)
}

// put appends fixed-size big-endian values to b; writes to a
// bytes.Buffer cannot fail.
func put(b *bytes.Buffer, vs ...any) {
	for _, v := range vs {
		_ = binary.Write(b, binary.BigEndian, v)
	}
}

// store collects blocks and named blocks and lays them out: header, block
// data, named blocks, then the block table (which mkbom and Apple's
// tools expect to end the file).
type store struct {
	blocks [][]byte
	vars   []namedBlock
}

type namedBlock struct {
	name  string
	index uint32
}

func (s *store) add(b []byte) uint32 {
	// Callers reuse their buffers.
	s.blocks = append(s.blocks, bytes.Clone(b))
	return uint32(len(s.blocks) - 1)
}

func (s *store) variable(name string, index uint32) {
	s.vars = append(s.vars, namedBlock{name, index})
}

func (s *store) bytes() []byte {
	var data bytes.Buffer
	offsets := make([]uint32, len(s.blocks))
	for i, blk := range s.blocks {
		if i == 0 {
			continue
		}
		offsets[i] = uint32(headerSize + data.Len())
		data.Write(blk)
	}
	var vars bytes.Buffer
	put(&vars, uint32(len(s.vars)))
	for _, v := range s.vars {
		put(&vars, v.index, uint8(len(v.name)))
		vars.WriteString(v.name)
	}
	var table bytes.Buffer
	put(&table, uint32(len(s.blocks)))
	for i, blk := range s.blocks {
		if i == 0 {
			put(&table, uint32(0), uint32(0))
			continue
		}
		put(&table, offsets[i], uint32(len(blk)))
	}
	// An empty free list, with the two spare slots mkbom leaves.
	put(&table, uint32(0), uint64(0), uint64(0))

	varsOffset := headerSize + data.Len()
	tableOffset := varsOffset + vars.Len()
	var out bytes.Buffer
	out.WriteString("BOMStore")
	put(&out, uint32(1), uint32(len(s.blocks)-1), uint32(tableOffset), uint32(table.Len()), uint32(varsOffset), uint32(vars.Len()))
	out.Write(make([]byte, headerSize-out.Len()))
	out.Write(data.Bytes())
	out.Write(vars.Bytes())
	out.Write(table.Bytes())
	return out.Bytes()
}
