package macpkg

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// xarHeaderSize and xarSHA1 are the xar header's length and its code for
// SHA-1 TOC checksums, which Installer and pkgutil verify.
const (
	xarHeaderSize = 28
	xarSHA1       = 1
	// xarMaxTOC caps the inflated TOC. A package's TOC lists a handful
	// of members in a few KB; the cap stops a small zlib stream from
	// inflating into gigabytes.
	xarMaxTOC = 1 << 22
)

// xarTOC is the part of a xar table of contents the package checks.
type xarTOC struct {
	CreationTime string `xml:"toc>creation-time"`
	Checksum     struct {
		Style  string `xml:"style,attr"`
		Offset int64  `xml:"offset"`
		Size   int64  `xml:"size"`
	} `xml:"toc>checksum"`
	Files []xarFile `xml:"toc>file"`
}

type xarFile struct {
	Name  string    `xml:"name"`
	Type  string    `xml:"type"`
	Mode  string    `xml:"mode"`
	UID   int       `xml:"uid"`
	GID   int       `xml:"gid"`
	Data  *xarData  `xml:"data"`
	Files []xarFile `xml:"file"`
}

type xarData struct {
	Offset   int64 `xml:"offset"`
	Length   int64 `xml:"length"`
	Size     int64 `xml:"size"`
	Encoding struct {
		Style string `xml:"style,attr"`
	} `xml:"encoding"`
	Archived  xarChecksum `xml:"archived-checksum"`
	Extracted xarChecksum `xml:"extracted-checksum"`
}

type xarChecksum struct {
	Style string `xml:"style,attr"`
	Value string `xml:",chardata"`
}

// xarArchive is a parsed xar file: the TOC as XML and as fields, and the
// heap that follows it.
type xarArchive struct {
	rawTOC []byte
	toc    xarTOC
	heap   []byte
}

// parseXar reads a xar archive and verifies its TOC's SHA-1 checksum.
func parseXar(data []byte) (*xarArchive, error) {
	if len(data) < xarHeaderSize || string(data[:4]) != "xar!" {
		return nil, errors.New("not a xar archive")
	}
	be := binary.BigEndian
	hsize := int(be.Uint16(data[4:]))
	clen, ulen := be.Uint64(data[8:]), be.Uint64(data[16:])
	if alg := be.Uint32(data[24:]); alg != xarSHA1 {
		return nil, fmt.Errorf("xar TOC checksum algorithm %d, want %d (sha1)", alg, xarSHA1)
	}
	if hsize < xarHeaderSize || uint64(hsize)+clen > uint64(len(data)) {
		return nil, errors.New("xar header: TOC runs past the end")
	}
	if ulen > xarMaxTOC {
		return nil, fmt.Errorf("xar header: TOC of %d bytes, more than the %d this reader accepts", ulen, xarMaxTOC)
	}
	compressed := data[hsize : hsize+int(clen)]
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("xar TOC: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(ulen)+1))
	if err != nil {
		return nil, fmt.Errorf("xar TOC: %w", err)
	}
	if uint64(len(raw)) != ulen {
		return nil, fmt.Errorf("xar TOC: %d bytes, header says %d", len(raw), ulen)
	}
	a := &xarArchive{rawTOC: raw, heap: data[hsize+int(clen):]}
	if err := xml.Unmarshal(raw, &a.toc); err != nil {
		return nil, fmt.Errorf("xar TOC: %w", err)
	}
	c := a.toc.Checksum
	if c.Style != "sha1" || c.Size != sha1.Size || c.Offset < 0 || c.Offset > int64(len(a.heap))-c.Size {
		return nil, fmt.Errorf("xar TOC checksum: style %q, %d bytes at %d; want sha1", c.Style, c.Size, c.Offset)
	}
	sum := sha1.Sum(compressed)
	if !bytes.Equal(sum[:], a.heap[c.Offset:c.Offset+c.Size]) {
		return nil, errors.New("xar TOC checksum does not match the TOC")
	}
	return a, nil
}

// heapEnd is the end of the last heap byte the TOC references: its own
// checksum or a member's data.
func (a *xarArchive) heapEnd() int64 {
	end := a.toc.Checksum.Offset + a.toc.Checksum.Size
	var walk func(files []xarFile)
	walk = func(files []xarFile) {
		for _, f := range files {
			if f.Data != nil {
				end = max(end, f.Data.Offset+f.Data.Length)
			}
			walk(f.Files)
		}
	}
	walk(a.toc.Files)
	return min(end, int64(len(a.heap)))
}

var creationTimeRe = regexp.MustCompile(`<creation-time>[^<]*</creation-time>`)

// setXarCreationTime rewrites the TOC's creation time, which bsdtar takes
// from the clock, so the same input gives the same package. The heap is
// unchanged: its offsets count from the end of the TOC, and the TOC
// checksum stays where it is, recomputed.
func setXarCreationTime(data []byte, t time.Time) ([]byte, error) {
	a, err := parseXar(data)
	if err != nil {
		return nil, err
	}
	stamp := "<creation-time>" + t.UTC().Format("2006-01-02T15:04:05") + "</creation-time>"
	raw := creationTimeRe.ReplaceAllLiteral(a.rawTOC, []byte(stamp))
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	// bsdtar leaves a few bytes after the last member that no TOC entry
	// points at, and they vary from run to run: keep only what the TOC
	// references.
	heap := bytes.Clone(a.heap[:a.heapEnd()])
	sum := sha1.Sum(z.Bytes())
	copy(heap[a.toc.Checksum.Offset:], sum[:])

	var out bytes.Buffer
	out.WriteString("xar!")
	for _, v := range []any{uint16(xarHeaderSize), uint16(1), uint64(z.Len()), uint64(len(raw)), uint32(xarSHA1)} {
		_ = binary.Write(&out, binary.BigEndian, v)
	}
	out.Write(z.Bytes())
	out.Write(heap)
	return out.Bytes(), nil
}
