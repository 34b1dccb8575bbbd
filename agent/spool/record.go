package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/shadowmap/shadowmap/collector/api"
)

// Record kinds: the first byte of every record body.
const (
	kindPut  byte = 1
	kindAck  byte = 2
	kindMeta byte = 3
)

// headerSize is the length and checksum in front of every record body.
const headerSize = 8

// maxBodySize bounds a record body: a batch the collector would accept plus
// room for the kind byte. A larger length field can only be corruption.
const maxBodySize = api.MaxBatchBytes + 1024

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn reports a record that runs past the end of its file.
var errTorn = errors.New("record runs past end of file")

// errBadRecord reports a record whose length or checksum is wrong.
var errBadRecord = errors.New("bad record")

// appendRecord appends the framed body to dst.
func appendRecord(dst, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli))
	return append(dst, body...)
}

// parseRecord reads the record at the start of buf. It returns the body and
// the record's total size. errTorn means buf ends inside the record;
// errBadRecord with size 0 means the length cannot be trusted, with size > 0
// that the checksum failed and the record can be skipped.
func parseRecord(buf []byte) (body []byte, size int, err error) {
	if len(buf) < headerSize {
		return nil, 0, errTorn
	}
	n := binary.LittleEndian.Uint32(buf)
	if n == 0 || n > maxBodySize {
		return nil, 0, errBadRecord
	}
	size = headerSize + int(n)
	if len(buf) < size {
		return nil, 0, errTorn
	}
	body = buf[headerSize:size]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(buf[4:]) {
		return nil, size, errBadRecord
	}
	return body, size, nil
}

// readRecordAt reads one record of a known size at off and checks it.
func readRecordAt(r io.ReaderAt, off, size int64) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, off); err != nil {
		return nil, err
	}
	body, n, err := parseRecord(buf)
	if err != nil {
		return nil, err
	}
	if int64(n) != size {
		return nil, errBadRecord
	}
	return body, nil
}
