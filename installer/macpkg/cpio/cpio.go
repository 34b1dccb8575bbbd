// Package cpio writes cpio archives in the POSIX "odc" format (magic
// 070707), the format of a macOS flat package's Payload and Scripts:
// Installer's payload extractor reads odc, not the "newc" format most
// Linux tools write by default.
package cpio

import (
	"errors"
	"fmt"
	"io"
)

// File type bits of Entry.Mode, as in st_mode.
const (
	TypeRegular   uint32 = 0o100000
	TypeDirectory uint32 = 0o040000
	typeMask      uint32 = 0o170000
)

// Entry is one archive member. Names are relative paths as Apple's tools
// write them: "." for the root, "./usr/local/bin/x" below it.
type Entry struct {
	Name     string
	Mode     uint32 // type bits and permissions
	UID, GID uint32
	ModTime  int64  // Unix seconds
	Data     []byte // regular files only
}

// Largest values the odc header's octal fields hold.
const (
	max6  = 0o777777
	max11 = 0o77777777777
)

// Writer writes entries one after the other and the trailer on Close. It
// numbers inodes itself so no two members look like hard links.
type Writer struct {
	w      io.Writer
	ino    uint32
	closed bool
}

// NewWriter returns a Writer that writes the archive to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Add writes e.
func (cw *Writer) Add(e Entry) error {
	if cw.closed {
		return errors.New("cpio: add after close")
	}
	switch e.Mode & typeMask {
	case TypeRegular:
	case TypeDirectory:
		if len(e.Data) != 0 {
			return fmt.Errorf("cpio: %s: a directory has no data", e.Name)
		}
	default:
		return fmt.Errorf("cpio: %s: only regular files and directories are supported (mode %o)", e.Name, e.Mode)
	}
	if e.Name == "" || e.Name == "TRAILER!!!" {
		return fmt.Errorf("cpio: invalid name %q", e.Name)
	}
	nlink := uint32(1)
	if e.Mode&typeMask == TypeDirectory {
		nlink = 2
	}
	cw.ino++
	return cw.write(e.Name, e.Mode, e.UID, e.GID, nlink, cw.ino, e.ModTime, e.Data)
}

// Close writes the trailer. It does not close the underlying writer.
func (cw *Writer) Close() error {
	if cw.closed {
		return nil
	}
	cw.closed = true
	return cw.write("TRAILER!!!", 0, 0, 0, 1, 0, 0, nil)
}

func (cw *Writer) write(name string, mode, uid, gid, nlink, ino uint32, mtime int64, data []byte) error {
	for _, f := range []struct {
		what string
		v    int64
		max  int64
	}{
		{"uid", int64(uid), max6}, {"gid", int64(gid), max6}, {"mode", int64(mode), max6},
		{"inode", int64(ino), max6}, {"mtime", mtime, max11}, {"size", int64(len(data)), max11},
		{"name length", int64(len(name) + 1), max6},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("cpio: %s: %s %d does not fit the odc header", name, f.what, f.v)
		}
	}
	// magic dev ino mode uid gid nlink rdev mtime namesize filesize
	hdr := fmt.Sprintf("070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o",
		0, ino, mode, uid, gid, nlink, 0, mtime, len(name)+1, len(data))
	if _, err := io.WriteString(cw.w, hdr+name+"\x00"); err != nil {
		return fmt.Errorf("cpio: write %s: %w", name, err)
	}
	if _, err := cw.w.Write(data); err != nil {
		return fmt.Errorf("cpio: write %s: %w", name, err)
	}
	return nil
}
