package sni

import (
	"bytes"
	"time"
)

// A ClientHello with post-quantum key shares (X25519MLKEM768) is about 1.8 KB,
// more than one QUIC Initial packet holds next to the padding rules, so
// browsers split it over two or more Initial packets, each a CRYPTO frame at
// its own offset and each decryptable on its own. QUICReassembler follows a
// few such connections at once.
const (
	// MaxPendingQUIC is how many connections a QUICReassembler follows at
	// once; the least recently seen is dropped for a new one.
	MaxPendingQUIC = 16
	// QUICReassemblyTTL is how long, in packet time, a connection's CRYPTO
	// stream is kept waiting for its missing parts. The parts of one
	// ClientHello leave the client back to back.
	QUICReassemblyTTL = 10 * time.Second

	// maxCryptoSpans bounds the disjoint byte ranges of one stream; real
	// clients send a handful of frames.
	maxCryptoSpans = 32
)

// QUICReassemblyStats counts what a QUICReassembler did.
type QUICReassemblyStats struct {
	// Names counts server names found in a CRYPTO stream reassembled
	// from two or more packets.
	Names uint64
	// Evicted counts connections dropped before their ClientHello was
	// complete: the table was full, the rest never came within the TTL, or
	// the ClientHello was larger than 16 KiB.
	Evicted uint64
}

// QUICReassembler rebuilds the ClientHello of QUIC connections whose client
// Initial packets each carry part of it. Connections are told apart by
// version and Destination Connection ID, which also give the keys; the keys
// are derived once per connection and the buffers of finished connections
// are reused, so following a connection allocates only when it starts.
//
// The zero value is ready to use. A QUICReassembler is not safe for
// concurrent use.
type QUICReassembler struct {
	conns     [MaxPendingQUIC]quicConnection
	clock     uint64 // orders connections by last use; packet times may tie
	plaintext []byte // reused for every decryption
	header    []byte // reused for the unprotected header
	stats     QUICReassemblyStats
}

type quicConnection struct {
	inUse bool
	// done marks a connection whose name was returned or that was given
	// up on; it stays until its slot is needed so that retransmissions
	// neither repeat the name nor start it again.
	done     bool
	version  uint32
	dcid     [maxConnectionIDBytes]byte
	dcidLen  int
	keys     initialKeys
	lastSeen time.Time
	lastUsed uint64 // the reassembler's clock at the last packet
	// stream holds the CRYPTO bytes at their offsets; spans lists the
	// ranges received, sorted and merged.
	stream []byte
	spans  [maxCryptoSpans]cryptoSpan
	nspans int
}

type cryptoSpan struct{ start, end int }

// Stats returns a copy of the counters.
func (a *QUICReassembler) Stats() QUICReassemblyStats { return a.stats }

// Add reads one UDP payload sent to a QUIC server at packet time now. When it
// is a client Initial packet whose CRYPTO data completes, together with the
// earlier packets of its connection, a ClientHello up to and including the
// server_name extension, the name is returned, once per connection.
//
// Packets that do not decrypt leave no state behind.
func (a *QUICReassembler) Add(packet []byte, now time.Time) (string, bool) {
	h, ok := parseInitialHeader(packet)
	if !ok {
		return "", false
	}
	c := a.lookup(h.version.number, h.dcid)
	if c != nil && now.Sub(c.lastSeen) > QUICReassemblyTTL {
		a.release(c)
		c = nil
	}
	if c != nil && c.done {
		return "", false
	}

	var keys *initialKeys
	if c != nil {
		keys = &c.keys
	} else {
		fresh, ok := newInitialKeys(h.version, h.dcid)
		if !ok {
			return "", false
		}
		keys = &fresh
	}
	plaintext, header, ok := keys.open(h, a.plaintext, a.header)
	a.plaintext, a.header = plaintext[:0], header[:0]
	if !ok || !hasCryptoFrame(plaintext) {
		return "", false
	}
	if c == nil {
		c = a.claim(now)
		c.version = h.version.number
		c.dcidLen = copy(c.dcid[:], h.dcid)
		c.keys = *keys
	}
	c.lastSeen = now
	a.clock++
	c.lastUsed = a.clock
	if !c.addFrames(plaintext) {
		a.giveUp(c)
		return "", false
	}
	contiguous := c.contiguous()
	name, ok := fromHandshake(c.stream[:contiguous])
	if ok {
		c.done = true
		a.stats.Names++
		return name, true
	}
	switch {
	case handshakeComplete(c.stream[:contiguous]):
		// The whole ClientHello is here and has no usable name.
		c.done = true
	case handshakeLength(c.stream[:contiguous]) > maxCryptoDataLength:
		a.giveUp(c)
	}
	return "", false
}

// Follows reports whether packet is a client Initial packet of a connection
// the reassembler holds (unfinished, or finished and remembered). Callers
// that try a packet on its own first (FromQUIC) can skip that for such
// packets: Add opens them with the connection's keys and does not repeat a
// name it returned.
func (a *QUICReassembler) Follows(packet []byte) bool {
	h, ok := parseInitialHeader(packet)
	return ok && a.lookup(h.version.number, h.dcid) != nil
}

// lookup returns the connection of version and dcid, or nil.
func (a *QUICReassembler) lookup(version uint32, dcid []byte) *quicConnection {
	for i := range a.conns {
		c := &a.conns[i]
		if c.inUse && c.version == version && bytes.Equal(c.dcid[:c.dcidLen], dcid) {
			return c
		}
	}
	return nil
}

// claim returns a free slot, making one by dropping the least recently seen
// connection when all are taken. Its stream buffer is kept for reuse.
func (a *QUICReassembler) claim(now time.Time) *quicConnection {
	var oldest *quicConnection
	for i := range a.conns {
		c := &a.conns[i]
		if !c.inUse {
			oldest = c
			break
		}
		if oldest == nil || c.lastUsed < oldest.lastUsed {
			oldest = c
		}
	}
	if oldest.inUse {
		a.release(oldest)
	}
	stream := oldest.stream[:0]
	*oldest = quicConnection{inUse: true, lastSeen: now, stream: stream}
	return oldest
}

// release frees a slot, counting a connection dropped unfinished.
func (a *QUICReassembler) release(c *quicConnection) {
	if !c.done {
		a.stats.Evicted++
	}
	c.inUse = false
}

// giveUp stops following c: it cannot complete within the bounds.
func (a *QUICReassembler) giveUp(c *quicConnection) {
	a.stats.Evicted++
	c.done = true
	c.stream = c.stream[:0]
	c.nspans = 0
}

// hasCryptoFrame reports whether decrypted Initial frames carry CRYPTO data
// the frame walk of addFrames would take.
func hasCryptoFrame(frames []byte) bool {
	found := false
	walkCryptoFrames(frames, func(uint64, []byte) bool {
		found = true
		return false
	})
	return found
}

// walkCryptoFrames calls fn with the offset and data of every non-empty
// CRYPTO frame in decrypted Initial frames, until fn returns false. PADDING,
// PING and ACK frames are skipped; any other frame, or a malformed one, ends
// the walk.
func walkCryptoFrames(frames []byte, fn func(offset uint64, data []byte) bool) {
	r := newReader(frames)
	for r.ok && r.remaining() > 0 {
		frameType, _ := r.varint()
		switch frameType {
		case frameTypePadding, frameTypePing:
		case frameTypeAck, frameTypeAckECN:
			skipAckFrame(&r, frameType == frameTypeAckECN)
		case frameTypeCrypto:
			offset, _ := r.varint()
			length, _ := r.varint()
			if !r.ok || length > uint64(r.remaining()) {
				return
			}
			data := r.take(int(length))
			if length > 0 && !fn(offset, data) {
				return
			}
		default:
			return
		}
	}
}

// addFrames stores the CRYPTO data of decrypted frames in c's stream. It
// reports false when the stream would grow past 16 KiB or split into more
// ranges than are tracked.
func (c *quicConnection) addFrames(frames []byte) bool {
	fits := true
	walkCryptoFrames(frames, func(offset uint64, data []byte) bool {
		if offset+uint64(len(data)) > maxCryptoDataLength {
			fits = false
			return false
		}
		start := int(offset)
		end := start + len(data)
		if end > len(c.stream) {
			c.stream = growTo(c.stream, end)
		}
		copy(c.stream[start:end], data)
		fits = c.addSpan(start, end)
		return fits
	})
	return fits
}

// growTo extends b to length n, keeping its bytes and reusing its capacity.
func growTo(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	grown := make([]byte, n, max(n, min(2*cap(b), maxCryptoDataLength), 2048))
	copy(grown, b)
	return grown
}

// addSpan records that bytes [start, end) are present, merging ranges that
// touch or overlap.
func (c *quicConnection) addSpan(start, end int) bool {
	spans := c.spans[:c.nspans]
	// Find the first span that ends at or after start: everything before
	// it lies wholly before the new range.
	i := 0
	for i < len(spans) && spans[i].end < start {
		i++
	}
	// Merge every span that touches [start, end).
	j := i
	for j < len(spans) && spans[j].start <= end {
		start = min(start, spans[j].start)
		end = max(end, spans[j].end)
		j++
	}
	merged := cryptoSpan{start, end}
	if i == j {
		// Nothing merged: insert at i.
		if c.nspans == maxCryptoSpans {
			return false
		}
		copy(c.spans[i+1:c.nspans+1], c.spans[i:c.nspans])
		c.spans[i] = merged
		c.nspans++
		return true
	}
	c.spans[i] = merged
	removed := j - i - 1
	copy(c.spans[i+1:], c.spans[j:c.nspans])
	c.nspans -= removed
	return true
}

// contiguous is how many bytes from offset 0 are present.
func (c *quicConnection) contiguous() int {
	if c.nspans == 0 || c.spans[0].start != 0 {
		return 0
	}
	return c.spans[0].end
}

// handshakeComplete reports whether message holds a whole handshake message,
// or is not the start of a ClientHello at all: either way no more bytes will
// help.
func handshakeComplete(message []byte) bool {
	if len(message) == 0 {
		return false
	}
	if message[0] != handshakeTypeClientHello {
		return true
	}
	n := handshakeLength(message)
	return n > 0 && len(message) >= n
}

// handshakeLength is the length of the handshake message that starts
// message, header included, or 0 when its header is not all there.
func handshakeLength(message []byte) int {
	if len(message) < handshakeHeaderLength {
		return 0
	}
	return handshakeHeaderLength + (int(message[1])<<16 | int(message[2])<<8 | int(message[3]))
}
