package bom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Read parses a Bom file: its paths with their metadata, the named
// blocks it holds and BomInfo. It checks that the trees Installer reads
// (Paths, HLIndex, VIndex's tree and Size64) are well formed.
func Read(data []byte) (*Bom, error) {
	r, err := newReader(data)
	if err != nil {
		return nil, fmt.Errorf("bom: %w", err)
	}
	b := &Bom{}
	vars := map[string]uint32{}
	for _, v := range r.vars {
		b.Variables = append(b.Variables, v.name)
		vars[v.name] = v.index
	}
	for _, name := range []string{"BomInfo", "Paths", "HLIndex", "VIndex", "Size64"} {
		if _, ok := vars[name]; !ok {
			return nil, fmt.Errorf("bom: no %s block", name)
		}
	}
	if err := r.info(vars["BomInfo"], b); err != nil {
		return nil, fmt.Errorf("bom: BomInfo: %w", err)
	}
	for _, name := range []string{"HLIndex", "Size64"} {
		if _, err := r.treeEntries(vars[name]); err != nil {
			return nil, fmt.Errorf("bom: %s: %w", name, err)
		}
	}
	vi, err := r.block(vars["VIndex"])
	if err != nil || len(vi) < 13 {
		return nil, fmt.Errorf("bom: VIndex: short or missing block")
	}
	if _, err := r.treeEntries(binary.BigEndian.Uint32(vi[4:])); err != nil {
		return nil, fmt.Errorf("bom: VIndex tree: %w", err)
	}
	if b.Entries, err = r.paths(vars["Paths"]); err != nil {
		return nil, fmt.Errorf("bom: Paths: %w", err)
	}
	return b, nil
}

// Caps on what a Bom may ask the reader to build, so a small malformed
// file cannot make it allocate or walk without bound. B-trees of real
// Boms are two levels deep; macOS paths are at most 1024 bytes (MAXPATHLEN).
const (
	maxTreeDepth = 16
	maxPathLen   = 1024
)

type reader struct {
	data   []byte
	table  [][2]uint32 // offset, length
	vars   []namedBlock
	visits int
}

func newReader(data []byte) (*reader, error) {
	if len(data) < 32 || string(data[:8]) != "BOMStore" {
		return nil, errors.New("not a BOMStore file")
	}
	be := binary.BigEndian
	if v := be.Uint32(data[8:]); v != 1 {
		return nil, fmt.Errorf("version %d, want 1", v)
	}
	tableOff, tableLen := be.Uint32(data[16:]), be.Uint32(data[20:])
	varsOff, varsLen := be.Uint32(data[24:]), be.Uint32(data[28:])
	table, err := slice(data, tableOff, tableLen)
	if err != nil || len(table) < 4 {
		return nil, fmt.Errorf("block table: %v", err)
	}
	n := be.Uint32(table)
	if uint64(n)*8+4 > uint64(len(table)) {
		return nil, fmt.Errorf("block table: %d entries do not fit in %d bytes", n, len(table))
	}
	r := &reader{data: data}
	for i := range n {
		p := table[4+8*i:]
		r.table = append(r.table, [2]uint32{be.Uint32(p), be.Uint32(p[4:])})
	}
	vars, err := slice(data, varsOff, varsLen)
	if err != nil || len(vars) < 4 {
		return nil, fmt.Errorf("named blocks: %v", err)
	}
	count := be.Uint32(vars)
	p := vars[4:]
	for range count {
		if len(p) < 5 || len(p) < 5+int(p[4]) {
			return nil, errors.New("named blocks: truncated")
		}
		name := p[5 : 5+int(p[4])]
		// Some writers count a terminating NUL in the length.
		name, _, _ = bytes.Cut(name, []byte{0})
		r.vars = append(r.vars, namedBlock{string(name), be.Uint32(p)})
		p = p[5+int(p[4]):]
	}
	return r, nil
}

func slice(data []byte, off, n uint32) ([]byte, error) {
	if uint64(off)+uint64(n) > uint64(len(data)) {
		return nil, fmt.Errorf("%d bytes at %d run past the end of the file (%d bytes)", n, off, len(data))
	}
	return data[off : off+n], nil
}

func (r *reader) block(i uint32) ([]byte, error) {
	if i == 0 || int(i) >= len(r.table) {
		return nil, fmt.Errorf("block %d does not exist", i)
	}
	b, err := slice(r.data, r.table[i][0], r.table[i][1])
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", i, err)
	}
	return b, nil
}

func (r *reader) info(i uint32, b *Bom) error {
	blk, err := r.block(i)
	if err != nil {
		return err
	}
	if len(blk) < 12 || binary.BigEndian.Uint32(blk) != 1 {
		return errors.New("bad header")
	}
	b.InfoPaths = binary.BigEndian.Uint32(blk[4:])
	n := binary.BigEndian.Uint32(blk[8:])
	if uint64(len(blk)) < 12+16*uint64(n) {
		return errors.New("truncated")
	}
	for k := range n {
		p := blk[12+16*k:]
		b.Info = append(b.Info, InfoEntry{CPUType: binary.BigEndian.Uint32(p), Size: binary.BigEndian.Uint32(p[8:])})
	}
	return nil
}

// treeEntries returns the (key, value) block pairs of the tree in block
// i, leaves left to right.
func (r *reader) treeEntries(i uint32) ([][2]uint32, error) {
	blk, err := r.block(i)
	if err != nil {
		return nil, err
	}
	if len(blk) < 21 || string(blk[:4]) != "tree" || binary.BigEndian.Uint32(blk[4:]) != 1 {
		return nil, errors.New("not a tree")
	}
	count := binary.BigEndian.Uint32(blk[16:])
	// Every entry names a block of its own, so a tree cannot hold more
	// entries than the file has blocks; leaves sharing their bytes could
	// otherwise list far more.
	if uint64(count) > uint64(len(r.table)) {
		return nil, fmt.Errorf("tree says %d entries, the file has %d blocks", count, len(r.table))
	}
	var out [][2]uint32
	if err := r.node(binary.BigEndian.Uint32(blk[8:]), int(count), 0, &out); err != nil {
		return nil, err
	}
	if uint32(len(out)) != count {
		return nil, fmt.Errorf("tree says %d entries, its leaves hold %d", count, len(out))
	}
	return out, nil
}

// node appends the entries of the subtree at block i to out, failing once
// there are more than limit.
func (r *reader) node(i uint32, limit, depth int, out *[][2]uint32) error {
	// A malformed file could link nodes in a cycle.
	if r.visits++; r.visits > len(r.table) {
		return errors.New("tree nodes form a cycle")
	}
	if depth > maxTreeDepth {
		return fmt.Errorf("tree is more than %d levels deep", maxTreeDepth)
	}
	blk, err := r.block(i)
	if err != nil {
		return err
	}
	if len(blk) < nodeHeaderSize {
		return fmt.Errorf("node %d: truncated", i)
	}
	leaf := binary.BigEndian.Uint16(blk) == 1
	n := int(binary.BigEndian.Uint16(blk[2:]))
	if len(blk) < nodeHeaderSize+8*n {
		return fmt.Errorf("node %d: %d entries do not fit", i, n)
	}
	for k := range n {
		p := blk[nodeHeaderSize+8*k:]
		key, value := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
		if leaf {
			if len(*out) >= limit {
				return fmt.Errorf("leaves hold more than the %d entries the tree says", limit)
			}
			*out = append(*out, [2]uint32{key, value})
		} else if err := r.node(key, limit, depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) paths(i uint32) ([]Entry, error) {
	pairs, err := r.treeEntries(i)
	if err != nil {
		return nil, err
	}
	type named struct {
		parent uint32
		name   string
	}
	byID := map[uint32]named{}
	var ids []uint32
	var entries []Entry
	for _, p := range pairs {
		key, err := r.block(p[0])
		if err != nil || len(key) < 8 {
			return nil, fmt.Errorf("path key %d: short or missing", p[0])
		}
		id := binary.BigEndian.Uint32(key)
		meta, err := r.block(binary.BigEndian.Uint32(key[4:]))
		if err != nil {
			return nil, fmt.Errorf("path %d: %w", id, err)
		}
		val, err := r.block(p[1])
		if err != nil || len(val) < 5 {
			return nil, fmt.Errorf("path %d: name block short or missing", id)
		}
		name, _, ok := bytes.Cut(val[4:], []byte{0})
		if !ok {
			return nil, fmt.Errorf("path %d: name is not NUL-terminated", id)
		}
		if _, dup := byID[id]; dup {
			return nil, fmt.Errorf("path id %d appears twice", id)
		}
		byID[id] = named{binary.BigEndian.Uint32(val), string(name)}
		e, err := parseMetadata(meta)
		if err != nil {
			return nil, fmt.Errorf("path %d (%s): %w", id, name, err)
		}
		ids = append(ids, id)
		entries = append(entries, e)
	}
	for k, id := range ids {
		var parts []string
		// The length cap also ends a walk round a cycle of parents.
		for cur, length := id, 0; cur != 0; {
			n, ok := byID[cur]
			if !ok {
				return nil, fmt.Errorf("path %d: parent %d is not in the Bom", id, cur)
			}
			if length += len(n.name) + 1; length > maxPathLen+1 {
				return nil, fmt.Errorf("path %d: longer than %d bytes, or its parents form a cycle", id, maxPathLen)
			}
			parts = append(parts, n.name)
			cur = n.parent
		}
		for a, b := 0, len(parts)-1; a < b; a, b = a+1, b-1 {
			parts[a], parts[b] = parts[b], parts[a]
		}
		entries[k].Path = strings.Join(parts, "/")
	}
	return entries, nil
}

func parseMetadata(m []byte) (Entry, error) {
	var e Entry
	be := binary.BigEndian
	if len(m) < 4 {
		return e, errors.New("metadata truncated")
	}
	typ, flags := m[0], be.Uint16(m[2:])
	if flags&0xf == 0 {
		return e, errors.New("paths-only Bom entries carry no metadata")
	}
	if len(m) < 4+19 {
		return e, errors.New("metadata truncated")
	}
	e.Mode = uint32(be.Uint16(m[4:]))
	e.UID, e.GID = be.Uint32(m[6:]), be.Uint32(m[10:])
	e.ModTime, e.Size = be.Uint32(m[14:]), be.Uint32(m[18:])
	rest := m[23:]
	switch typ {
	case entryDirectory:
		if e.Mode&typeMask != TypeDirectory {
			return e, fmt.Errorf("directory entry with mode %o", e.Mode)
		}
	case entryFile:
		if e.Mode&typeMask != TypeRegular {
			return e, fmt.Errorf("file entry with mode %o", e.Mode)
		}
		if len(rest) < 4 {
			return e, errors.New("checksum missing")
		}
		e.Checksum = be.Uint32(rest)
		rest = rest[4:]
		if flags>>12 != 0 {
			if len(rest) < 5 {
				return e, errors.New("architecture list truncated")
			}
			n := be.Uint32(rest[1:])
			rest = rest[5:]
			if uint64(len(rest)) < 16*uint64(n) {
				return e, errors.New("architecture list truncated")
			}
			for k := range n {
				p := rest[16*k:]
				e.Arches = append(e.Arches, Arch{be.Uint32(p), be.Uint32(p[4:]), be.Uint32(p[8:]), be.Uint32(p[12:])})
			}
		}
	default:
		return e, fmt.Errorf("entry type %d is not supported", typ)
	}
	return e, nil
}
