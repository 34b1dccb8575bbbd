package capture

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// A read from a BSD BPF device returns a buffer of records, each a bpf_hdr
// followed by the captured bytes and padding to the next record. The layout
// here is macOS's (net/bpf.h):
//
//	struct bpf_hdr {
//		struct timeval32 bh_tstamp; // int32 seconds, int32 microseconds
//		uint32_t bh_caplen;         // bytes captured
//		uint32_t bh_datalen;        // bytes on the wire
//		u_short  bh_hdrlen;         // header length, padding included
//	};
//
// in host byte order. The kernel pads bh_hdrlen so that the network header
// after the link header is aligned, so it varies by link type and must be
// read, not assumed; records start at BPF_WORDALIGN boundaries (4 bytes).
// This file has no build tag so the parsing is tested and fuzzed anywhere.
const (
	bpfHdrMinLen = 18 // the fields above, without trailing padding
	bpfAlignment = 4  // BPF_ALIGNMENT: sizeof(int32_t) on macOS
)

func bpfWordAlign(n int) int { return (n + bpfAlignment - 1) &^ (bpfAlignment - 1) }

// bpfRecords walks the records of one read from a BPF device.
type bpfRecords struct {
	buf []byte
	off int
}

// reset starts walking buf, the bytes of one read.
func (r *bpfRecords) reset(buf []byte) {
	r.buf = buf
	r.off = 0
}

// next returns the next record's captured bytes (a sub-slice of the buffer)
// and capture time; ok is false when the buffer is used up. A record that
// does not fit the buffer is an error wrapping errBadRecord, and the rest of
// the buffer is dropped: its record boundaries cannot be trusted.
func (r *bpfRecords) next() (data []byte, ts time.Time, ok bool, err error) {
	rest := len(r.buf) - r.off
	if rest <= 0 {
		return nil, time.Time{}, false, nil
	}
	if rest < bpfHdrMinLen {
		r.off = len(r.buf)
		return nil, time.Time{}, false, fmt.Errorf("capture: BPF buffer: %d trailing bytes: %w", rest, errBadRecord)
	}
	h := r.buf[r.off:]
	sec := int32(binary.NativeEndian.Uint32(h[0:]))
	usec := int32(binary.NativeEndian.Uint32(h[4:]))
	capLen := int(binary.NativeEndian.Uint32(h[8:]))
	hdrLen := int(binary.NativeEndian.Uint16(h[16:]))
	if hdrLen < bpfHdrMinLen || capLen > rest-hdrLen {
		r.off = len(r.buf)
		return nil, time.Time{}, false, fmt.Errorf("capture: BPF record with header length %d and capture length %d in %d bytes: %w",
			hdrLen, capLen, rest, errBadRecord)
	}
	data = h[hdrLen : hdrLen+capLen : hdrLen+capLen]
	// The last record may lack its padding; r.off past the end ends the
	// walk.
	r.off += bpfWordAlign(hdrLen + capLen)
	return data, time.Unix(int64(sec), int64(usec)*int64(time.Microsecond)), true, nil
}

// Data-link types a macOS BPF device reports (BIOCGDLT, net/bpf.h) that the
// capture reads.
const (
	dltNull   = 0  // DLT_NULL: lo0 and the utun devices of VPNs
	dltEN10MB = 1  // DLT_EN10MB: Ethernet and Wi-Fi
	dltRaw    = 12 // DLT_RAW on macOS (other systems number it 14)
)

// bpfLinkType maps a BPF data-link type to the decoder's link type, and
// reports false for link types neither the filter nor the decoder read.
func bpfLinkType(dlt uint32) (layers.LinkType, bool) {
	switch dlt {
	case dltNull:
		return layers.LinkTypeNull, true
	case dltEN10MB:
		return layers.LinkTypeEthernet, true
	case dltRaw:
		return layers.LinkTypeRaw, true
	}
	return 0, false
}

// bpfDevice is an open BPF device: the system calls behind a bpfReader.
type bpfDevice interface {
	// read reads one buffer of records; 0 bytes or errReadTimeout means
	// the read timeout passed without packets.
	read(buf []byte) (int, error)
	// dropped is the kernel's count of packets dropped for want of buffer
	// space since the device was opened.
	dropped() (uint64, error)
	close() error
}

// bpfReader is the packetReader of a BPF device: it reads buffers and hands
// out their records one at a time.
type bpfReader struct {
	dev     bpfDevice
	link    layers.LinkType
	buf     []byte // exactly the device's buffer length, as read(2) needs
	records bpfRecords
}

func newBPFReader(dev bpfDevice, link layers.LinkType, bufLen int) *bpfReader {
	return &bpfReader{dev: dev, link: link, buf: make([]byte, bufLen)}
}

func (r *bpfReader) linkType() layers.LinkType { return r.link }

func (r *bpfReader) readPacket() ([]byte, time.Time, error) {
	for {
		data, ts, ok, err := r.records.next()
		if err != nil {
			return nil, time.Time{}, err
		}
		if ok {
			return data, ts, nil
		}
		n, err := r.dev.read(r.buf)
		if err != nil {
			return nil, time.Time{}, err
		}
		if n == 0 {
			return nil, time.Time{}, errReadTimeout
		}
		r.records.reset(r.buf[:n])
	}
}

func (r *bpfReader) dropped() (uint64, error) { return r.dev.dropped() }

func (r *bpfReader) close() error { return r.dev.close() }
