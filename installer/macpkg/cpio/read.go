package cpio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ReadAll reads an odc archive up to its trailer, as tests and tools that
// check a package's Payload need. Inode, device and link counts are not
// returned.
func ReadAll(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	var out []Entry
	for {
		var hdr [76]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("cpio: header: %w", err)
		}
		if string(hdr[:6]) != "070707" {
			return nil, errors.New("cpio: not an odc header (magic 070707)")
		}
		// ParseUint, unlike ParseInt, refuses a sign: the fields are
		// octal digits only.
		field := func(off, n int) (int64, error) {
			v, err := strconv.ParseUint(string(hdr[off:off+n]), 8, 64)
			return int64(v), err
		}
		var vals [6]int64
		for i, f := range [][2]int{{18, 6}, {24, 6}, {30, 6}, {48, 11}, {59, 6}, {65, 11}} {
			v, err := field(f[0], f[1])
			if err != nil {
				return nil, fmt.Errorf("cpio: header field at %d: %w", f[0], err)
			}
			vals[i] = v
		}
		mode, uid, gid, mtime, namesize, filesize := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
		if namesize < 1 || filesize > 1<<34 {
			return nil, errors.New("cpio: implausible header")
		}
		name := make([]byte, namesize)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, fmt.Errorf("cpio: name: %w", err)
		}
		if name[namesize-1] != 0 {
			return nil, errors.New("cpio: name is not NUL-terminated")
		}
		// The data grows as it arrives rather than being allocated at
		// the size the header claims, which a damaged archive can make
		// gigabytes.
		data, err := io.ReadAll(io.LimitReader(br, filesize))
		if err != nil {
			return nil, fmt.Errorf("cpio: %s: data: %w", name[:namesize-1], err)
		}
		if int64(len(data)) != filesize {
			return nil, fmt.Errorf("cpio: %s: data: %w", name[:namesize-1], io.ErrUnexpectedEOF)
		}
		n := string(name[:namesize-1])
		if n == "TRAILER!!!" {
			return out, nil
		}
		out = append(out, Entry{Name: n, Mode: uint32(mode), UID: uint32(uid), GID: uint32(gid), ModTime: mtime, Data: data})
	}
}
