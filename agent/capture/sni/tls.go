// Package sni extracts the server name a client asks for from the first bytes
// of a TLS-over-TCP flow (the ClientHello) and of a QUIC flow (the client's
// Initial packet, which is encrypted with keys anyone can derive).
//
// FromTLS and FromQUIC read one packet and keep no state. QUICReassembler
// follows QUIC connections whose ClientHello spans several Initial packets,
// as post-quantum key shares make it do.
//
// The parsers read bytes from the network: every length is checked against
// the bytes present, nothing panics, and anything unexpected returns false.
package sni

const (
	recordTypeHandshake      = 22
	handshakeTypeClientHello = 1
	extensionServerName      = 0
	serverNameTypeHostName   = 0

	recordHeaderLength    = 5
	handshakeHeaderLength = 4
	randomLength          = 32

	// maxNameLength is the longest DNS name in presentation form without
	// the trailing dot (RFC 1035: 255 octets on the wire).
	maxNameLength  = 253
	maxLabelLength = 63
)

// FromTLS returns the server name of a TLS ClientHello that starts at the
// beginning of a TCP payload, lowercased and validated as a DNS host name.
//
// A ClientHello longer than one segment is common (post-quantum key shares
// make it 1.5-2 KB), so the walk stops at the end of the bytes present: the
// name is returned when the whole server_name extension lies within them, and
// false when the ClientHello is cut off before it or inside it. FromTLS keeps
// no state: the capture decoder buffers the start of a ClientHello per TCP
// flow and calls it again as the following segments arrive.
//
// It allocates only the returned string.
func FromTLS(payload []byte) (string, bool) {
	if len(payload) < recordHeaderLength || payload[0] != recordTypeHandshake {
		return "", false
	}
	// Record version: 3.x for SSL 3.0 through TLS 1.3 (which keeps 3.1/3.3
	// on the wire for compatibility).
	if payload[1] != 3 {
		return "", false
	}
	recordLength := int(payload[3])<<8 | int(payload[4])
	fragment := payload[recordHeaderLength:]
	if recordLength < len(fragment) {
		fragment = fragment[:recordLength]
	}
	return fromHandshake(fragment)
}

// fromHandshake returns the server name of a ClientHello handshake message
// (type, 24-bit length, body), possibly cut short after the server_name
// extension. QUIC carries the same message in CRYPTO frames without a record
// header.
func fromHandshake(message []byte) (string, bool) {
	if len(message) < handshakeHeaderLength || message[0] != handshakeTypeClientHello {
		return "", false
	}
	bodyLength := int(message[1])<<16 | int(message[2])<<8 | int(message[3])
	body := message[handshakeHeaderLength:]
	if bodyLength < len(body) {
		body = body[:bodyLength]
	}

	r := newReader(body)
	r.skip(2 + randomLength) // legacy_version, random
	r.skipVector8()          // legacy_session_id
	r.skipVector16()         // cipher_suites
	r.skipVector8()          // legacy_compression_methods
	if !r.ok {
		return "", false
	}
	extensionsLength, _ := r.uint16()
	if !r.ok {
		return "", false
	}
	extensions := r.rest()
	if extensionsLength < len(extensions) {
		extensions = extensions[:extensionsLength]
	}

	r = newReader(extensions)
	for r.ok && r.remaining() > 0 {
		extensionType, _ := r.uint16()
		extensionData := r.vector16()
		if !r.ok {
			return "", false
		}
		if extensionType == extensionServerName {
			return fromServerNameExtension(extensionData)
		}
	}
	return "", false
}

// fromServerNameExtension reads a ServerNameList (RFC 6066 section 3) and
// returns its host_name entry.
func fromServerNameExtension(data []byte) (string, bool) {
	r := newReader(data)
	list := r.vector16()
	if !r.ok {
		return "", false
	}
	r = newReader(list)
	for r.ok && r.remaining() > 0 {
		nameType, _ := r.uint8()
		name := r.vector16()
		if !r.ok {
			return "", false
		}
		if nameType == serverNameTypeHostName {
			return normalizeHostName(name)
		}
	}
	return "", false
}

// normalizeHostName validates name as a DNS host name (letters, digits,
// hyphens; dot-separated labels of 1 to 63 bytes; at most 253 bytes; no
// trailing dot, which RFC 6066 forbids in SNI) and returns it lowercased.
// A name whose last label is all digits is refused: it is an IPv4 literal,
// which SNI must not carry, or garbage.
func normalizeHostName(name []byte) (string, bool) {
	if len(name) == 0 || len(name) > maxNameLength {
		return "", false
	}
	var lowered [maxNameLength]byte
	labelLength := 0
	labelAllDigits := true
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c == '-':
			labelAllDigits = false
		case c >= 'A' && c <= 'Z':
			labelAllDigits = false
			c += 'a' - 'A'
		case c >= '0' && c <= '9':
		case c == '.':
			if labelLength == 0 {
				return "", false
			}
			labelLength = 0
			labelAllDigits = true
			lowered[i] = c
			continue
		default:
			return "", false
		}
		labelLength++
		if labelLength > maxLabelLength {
			return "", false
		}
		lowered[i] = c
	}
	if labelLength == 0 || labelAllDigits {
		return "", false
	}
	return string(lowered[:len(name)]), true
}

// reader walks big-endian TLS and QUIC fields. The first read past the end
// clears ok; later reads return zero values, so a sequence of reads needs
// one check at the end.
type reader struct {
	data []byte
	ok   bool
}

func newReader(data []byte) reader { return reader{data: data, ok: true} }

func (r *reader) remaining() int { return len(r.data) }

func (r *reader) rest() []byte { return r.data }

func (r *reader) fail() {
	r.ok = false
	r.data = nil
}

func (r *reader) take(n int) []byte {
	if !r.ok || n < 0 || n > len(r.data) {
		r.fail()
		return nil
	}
	taken := r.data[:n:n]
	r.data = r.data[n:]
	return taken
}

func (r *reader) skip(n int) { r.take(n) }

func (r *reader) uint8() (int, bool) {
	b := r.take(1)
	if b == nil {
		return 0, false
	}
	return int(b[0]), true
}

func (r *reader) uint16() (int, bool) {
	b := r.take(2)
	if b == nil {
		return 0, false
	}
	return int(b[0])<<8 | int(b[1]), true
}

func (r *reader) vector8() []byte {
	n, _ := r.uint8()
	return r.take(n)
}

func (r *reader) vector16() []byte {
	n, _ := r.uint16()
	return r.take(n)
}

func (r *reader) skipVector8()  { r.vector8() }
func (r *reader) skipVector16() { r.vector16() }

// varint reads a QUIC variable-length integer (RFC 9000 section 16).
func (r *reader) varint() (uint64, bool) {
	first := r.take(1)
	if first == nil {
		return 0, false
	}
	length := 1 << (first[0] >> 6)
	value := uint64(first[0] & 0x3f)
	rest := r.take(length - 1)
	if !r.ok {
		return 0, false
	}
	for _, b := range rest {
		value = value<<8 | uint64(b)
	}
	return value, true
}
