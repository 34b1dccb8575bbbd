package sni

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
)

// quicVersion holds what differs between QUIC versions for Initial packets.
type quicVersion struct {
	number      uint32
	initialType byte // long packet type bits of an Initial packet
	salt        [20]byte
	keyLabel    string
	ivLabel     string
	hpLabel     string
}

// quicVersionFor returns the parameters of the versions whose Initial packets
// FromQUIC can open: QUIC v1 (RFC 9001 section 5.2) and QUIC v2 (RFC 9369
// section 3). Returned by value from a switch so there is no package state.
func quicVersionFor(number uint32) (quicVersion, bool) {
	switch number {
	case 0x00000001:
		return quicVersion{
			number:      number,
			initialType: 0b00,
			salt: [20]byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
				0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
			keyLabel: "quic key",
			ivLabel:  "quic iv",
			hpLabel:  "quic hp",
		}, true
	case 0x6b3343cf:
		return quicVersion{
			number:      number,
			initialType: 0b01,
			salt: [20]byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
				0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
			keyLabel: "quicv2 key",
			ivLabel:  "quicv2 iv",
			hpLabel:  "quicv2 hp",
		}, true
	}
	return quicVersion{}, false
}

const (
	longHeaderForm       = 0x80
	maxConnectionIDBytes = 20 // RFC 9000 section 17.2, for versions 1 and 2
	headerProtectionSkip = 4  // the sample starts 4 bytes after the packet number offset
	headerSampleLength   = 16
	aeadTagLength        = 16
	aeadKeyLength        = 16
	aeadNonceLength      = 12

	frameTypePadding    = 0x00
	frameTypePing       = 0x01
	frameTypeAck        = 0x02
	frameTypeAckECN     = 0x03
	frameTypeCrypto     = 0x06
	maxCryptoFragments  = 64
	maxCryptoDataLength = 16 << 10
)

// FromQUIC returns the server name in the ClientHello carried by a QUIC v1
// or v2 client Initial packet at the start of a UDP payload. It derives the
// Initial keys from the Destination Connection ID (RFC 9001 section 5.2),
// removes header protection, decrypts the payload, reassembles the CRYPTO
// frames from offset 0 and reads the ClientHello as FromTLS does.
//
// Only the first packet of the datagram and only the CRYPTO data in it are
// used: when a ClientHello spans two Initial packets the name is found only
// if its extension is in the first. QUICReassembler follows connections
// across packets.
func FromQUIC(packet []byte) (string, bool) {
	plaintext, ok := openClientInitial(packet)
	if !ok {
		return "", false
	}
	cryptoData, ok := reassembleCrypto(plaintext)
	if !ok {
		return "", false
	}
	return fromHandshake(cryptoData)
}

// openClientInitial parses the long header of an Initial packet, removes
// header protection and returns the decrypted payload (the frames).
func openClientInitial(packet []byte) ([]byte, bool) {
	h, ok := parseInitialHeader(packet)
	if !ok {
		return nil, false
	}
	keys, ok := newInitialKeys(h.version, h.dcid)
	if !ok {
		return nil, false
	}
	plaintext, _, ok := keys.open(h, nil, nil)
	return plaintext, ok
}

// initialHeader is the cleartext part of a client Initial packet's long
// header, before header protection is removed.
type initialHeader struct {
	version quicVersion
	dcid    []byte
	// packet is the Initial packet alone: later bytes of the datagram
	// (coalesced packets, padding) are cut off.
	packet             []byte
	packetNumberOffset int
}

// parseInitialHeader reads the long header of a QUIC v1 or v2 Initial
// packet up to the (still protected) packet number.
func parseInitialHeader(packet []byte) (initialHeader, bool) {
	r := newReader(packet)
	first, _ := r.uint8()
	versionBytes := r.take(4)
	if !r.ok || first&longHeaderForm == 0 {
		return initialHeader{}, false
	}
	version, ok := quicVersionFor(binary.BigEndian.Uint32(versionBytes))
	if !ok || byte(first>>4)&0b11 != version.initialType {
		return initialHeader{}, false
	}
	dcid := r.vector8()
	scid := r.vector8()
	tokenLength, _ := r.varint()
	if !r.ok || len(dcid) > maxConnectionIDBytes || len(scid) > maxConnectionIDBytes ||
		tokenLength > uint64(r.remaining()) {
		return initialHeader{}, false
	}
	r.skip(int(tokenLength))
	payloadLength, _ := r.varint()
	if !r.ok || payloadLength > uint64(r.remaining()) {
		return initialHeader{}, false
	}
	packetNumberOffset := len(packet) - r.remaining()
	packet = packet[:packetNumberOffset+int(payloadLength)]
	if packetNumberOffset+headerProtectionSkip+headerSampleLength > len(packet) {
		return initialHeader{}, false
	}
	return initialHeader{version: version, dcid: dcid, packet: packet, packetNumberOffset: packetNumberOffset}, true
}

// initialKeys are the client's Initial packet protection keys of one
// connection, ready to use: deriving them costs several allocations, so a
// connection followed across packets keeps them.
type initialKeys struct {
	aead             cipher.AEAD
	headerProtection cipher.Block
	iv               [aeadNonceLength]byte
	// mask and nonce are scratch space for open: as arguments of
	// interface methods they would otherwise escape on every packet.
	mask  [aes.BlockSize]byte
	nonce [aeadNonceLength]byte
}

func newInitialKeys(version quicVersion, dcid []byte) (initialKeys, bool) {
	key, iv, headerKey, ok := clientInitialKeys(version, dcid)
	if !ok {
		return initialKeys{}, false
	}
	headerCipher, err := aes.NewCipher(headerKey)
	if err != nil {
		return initialKeys{}, false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return initialKeys{}, false
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return initialKeys{}, false
	}
	k := initialKeys{aead: aead, headerProtection: headerCipher}
	copy(k.iv[:], iv)
	return k, true
}

// open removes header protection and decrypts the packet of h. The
// plaintext is appended to dst[:0] and the unprotected header, which is the
// associated data, to header[:0]; both are returned so callers can reuse
// them. The caller's packet bytes are left alone.
func (k *initialKeys) open(h initialHeader, dst, header []byte) (plaintext, headerOut []byte, ok bool) {
	packet := h.packet
	sampleOffset := h.packetNumberOffset + headerProtectionSkip
	mask := &k.mask
	k.headerProtection.Encrypt(mask[:], packet[sampleOffset:sampleOffset+headerSampleLength])

	unprotectedFirst := packet[0] ^ mask[0]&0x0f
	packetNumberLength := int(unprotectedFirst&0b11) + 1
	headerLength := h.packetNumberOffset + packetNumberLength
	if headerLength+aeadTagLength > len(packet) {
		return dst, header, false
	}
	header = append(header[:0], packet[:headerLength]...)
	header[0] = unprotectedFirst
	k.nonce = k.iv
	nonce := &k.nonce
	for i := 0; i < packetNumberLength; i++ {
		header[h.packetNumberOffset+i] ^= mask[1+i]
		// The packet number is the last bytes of the nonce (big-endian),
		// XORed into the IV. The first Initial has nothing to decode the
		// truncated number against, so it is used as it is.
		nonce[aeadNonceLength-packetNumberLength+i] ^= header[h.packetNumberOffset+i]
	}
	ciphertext := packet[headerLength:]
	plaintext, err := k.aead.Open(dst[:0], nonce[:], ciphertext, header)
	if err != nil {
		return dst, header, false
	}
	return plaintext, header, true
}

// clientInitialKeys derives the client's Initial packet protection keys from
// the Destination Connection ID of the client's first Initial packet.
func clientInitialKeys(version quicVersion, dcid []byte) (key, iv, headerKey []byte, ok bool) {
	initialSecret, err := hkdf.Extract(sha256.New, dcid, version.salt[:])
	if err != nil {
		return nil, nil, nil, false
	}
	clientSecret, ok := expandLabel(initialSecret, "client in", sha256.Size)
	if !ok {
		return nil, nil, nil, false
	}
	key, ok1 := expandLabel(clientSecret, version.keyLabel, aeadKeyLength)
	iv, ok2 := expandLabel(clientSecret, version.ivLabel, aeadNonceLength)
	headerKey, ok3 := expandLabel(clientSecret, version.hpLabel, aeadKeyLength)
	return key, iv, headerKey, ok1 && ok2 && ok3
}

// expandLabel is HKDF-Expand-Label from TLS 1.3 (RFC 8446 section 7.1) with
// SHA-256 and an empty context.
func expandLabel(secret []byte, label string, length int) ([]byte, bool) {
	const prefix = "tls13 "
	var info [2 + 1 + len(prefix) + 255 + 1]byte
	binary.BigEndian.PutUint16(info[0:2], uint16(length))
	info[2] = byte(len(prefix) + len(label))
	n := 3
	n += copy(info[n:], prefix)
	n += copy(info[n:], label)
	info[n] = 0 // context length
	n++
	out, err := hkdf.Expand(sha256.New, secret, string(info[:n]), length)
	return out, err == nil
}

// cryptoFragment is the data of one CRYPTO frame and its stream offset.
type cryptoFragment struct {
	offset uint64
	data   []byte
}

// reassembleCrypto walks the frames of a decrypted Initial payload and
// returns the CRYPTO stream bytes contiguous from offset 0. Frames may come
// in any order (browsers shuffle them to foil middleboxes); the result stops
// at the first gap. PADDING, PING and ACK frames are skipped; any other frame
// ends the walk, keeping what was collected.
func reassembleCrypto(frames []byte) ([]byte, bool) {
	var fragments [maxCryptoFragments]cryptoFragment
	fragmentCount := 0
	end := uint64(0)
	walkCryptoFrames(frames, func(offset uint64, data []byte) bool {
		if offset >= maxCryptoDataLength || fragmentCount == len(fragments) {
			return true
		}
		fragments[fragmentCount] = cryptoFragment{offset: offset, data: data}
		fragmentCount++
		end = max(end, min(offset+uint64(len(data)), maxCryptoDataLength))
		return true
	})
	if fragmentCount == 0 {
		return nil, false
	}

	stream := make([]byte, end)
	contiguous := uint64(0)
	for progressed := true; progressed; {
		progressed = false
		for _, fragment := range fragments[:fragmentCount] {
			fragmentEnd := min(fragment.offset+uint64(len(fragment.data)), end)
			if fragment.offset <= contiguous && fragmentEnd > contiguous {
				copy(stream[contiguous:fragmentEnd], fragment.data[contiguous-fragment.offset:])
				contiguous = fragmentEnd
				progressed = true
			}
		}
	}
	if contiguous == 0 {
		return nil, false
	}
	return stream[:contiguous], true
}

// skipAckFrame skips the fields of an ACK frame after its type (RFC 9000
// section 19.3). A client's later Initial packets acknowledge the server's.
func skipAckFrame(r *reader, withECNCounts bool) {
	r.varint() // largest acknowledged
	r.varint() // ack delay
	rangeCount, _ := r.varint()
	r.varint() // first ack range
	if !r.ok || rangeCount > uint64(r.remaining()) {
		r.fail()
		return
	}
	for i := uint64(0); i < rangeCount && r.ok; i++ {
		r.varint() // gap
		r.varint() // ack range length
	}
	if withECNCounts {
		r.varint()
		r.varint()
		r.varint()
	}
}
