package sni

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"github.com/shadowmap/shadowmap/internal/testtls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clientHello returns the first TLS record a crypto/tls client writes when it
// connects with serverName: its ClientHello. The handshake runs over an
// in-memory pipe and is abandoned after that record.
func clientHello(t testing.TB, serverName string) []byte {
	return testtls.ClientHello(t, &tls.Config{ServerName: serverName})
}

// readHexFile returns the bytes of a testdata file of hex digits, where lines
// starting with # are comments.
func readHexFile(t testing.TB, name string) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading test vector: %v", err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(text)) {
		if !strings.HasPrefix(line, "#") {
			digits.WriteString(strings.TrimSpace(line))
		}
	}
	data, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return data
}

func TestFromTLSCryptoTLSClientHellos(t *testing.T) {
	tests := []struct {
		serverName string
		want       string
	}{
		{"example.com", "example.com"},
		{"Login.Microsoftonline.COM", "login.microsoftonline.com"},
		{"a.b.c.d.e.f.g.example.co.uk", "a.b.c.d.e.f.g.example.co.uk"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"customer-42.zendesk.com", "customer-42.zendesk.com"},
		{strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".example", strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".example"},
	}
	for _, tt := range tests {
		t.Run(tt.serverName, func(t *testing.T) {
			got, ok := FromTLS(clientHello(t, tt.serverName))
			if !ok || got != tt.want {
				t.Errorf("FromTLS = %q, %v; want %q, true", got, ok, tt.want)
			}
		})
	}
}

func TestFromTLSWithoutServerName(t *testing.T) {
	// crypto/tls sends no server_name extension for an IP address.
	hello := clientHello(t, "192.0.2.1")
	if got, ok := FromTLS(hello); ok {
		t.Errorf("FromTLS = %q, true; want false for a ClientHello without SNI", got)
	}
}

// serverNameExtensionEnd returns the offset just after the server_name
// extension in a ClientHello record, found by searching for the name.
func serverNameExtensionEnd(t *testing.T, record []byte, name string) int {
	t.Helper()
	at := bytes.Index(record, []byte(name))
	if at < 0 {
		t.Fatalf("name %q not in the ClientHello", name)
	}
	return at + len(name)
}

func TestFromTLSTruncated(t *testing.T) {
	const name = "truncated.example.org"
	hello := clientHello(t, name)
	nameEnd := serverNameExtensionEnd(t, hello, name)
	for cut := 0; cut <= len(hello); cut++ {
		got, ok := FromTLS(hello[:cut])
		wantOK := cut >= nameEnd
		if ok != wantOK || (ok && got != name) {
			t.Fatalf("FromTLS(first %d of %d bytes) = %q, %v; want ok=%v (name ends at %d)",
				cut, len(hello), got, ok, wantOK, nameEnd)
		}
	}
}

func TestFromTLSCorrupted(t *testing.T) {
	hello := clientHello(t, "corrupt.example.net")
	mutate := func(change func([]byte)) []byte {
		b := bytes.Clone(hello)
		change(b)
		return b
	}
	nameAt := bytes.Index(hello, []byte("corrupt.example.net"))
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"application data record", mutate(func(b []byte) { b[0] = 23 })},
		{"record version 2", mutate(func(b []byte) { b[1] = 2 })},
		{"server hello", mutate(func(b []byte) { b[5] = 2 })},
		{"record length zero", mutate(func(b []byte) { b[3], b[4] = 0, 0 })},
		{"handshake length short", mutate(func(b []byte) { b[6], b[7], b[8] = 0, 0, 40 })},
		{"session id past the end", mutate(func(b []byte) { b[5+4+2+32] = 255 })},
		{"underscore in name", mutate(func(b []byte) { b[nameAt+7] = '_' })},
		{"space in name", mutate(func(b []byte) { b[nameAt] = ' ' })},
		{"empty label", mutate(func(b []byte) { b[nameAt+7] = '.'; b[nameAt+8] = '.' })},
		{"leading dot", mutate(func(b []byte) { b[nameAt] = '.' })},
		{"high byte in name", mutate(func(b []byte) { b[nameAt+1] = 0xc3 })},
		{"name length past the list", mutate(func(b []byte) { b[nameAt-1]++ })},
		{"name type not host_name", mutate(func(b []byte) { b[nameAt-3] = 1 })},
		{"plain HTTP", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := FromTLS(tt.payload); ok {
				t.Errorf("FromTLS = %q, true; want false", got)
			}
		})
	}
}

func TestNormalizeHostName(t *testing.T) {
	long := strings.Repeat("abcdefghi.", 25) + "com" // 253 bytes
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"example.com", "example.com", true},
		{"EXAMPLE.Com", "example.com", true},
		{"localhost", "localhost", true},
		{"a-b.c0", "a-b.c0", true},
		{long, long, true},
		{long + "x", "", false},
		{strings.Repeat("a", 64) + ".com", "", false},
		{"", "", false},
		{".", "", false},
		{"example.com.", "", false},
		{"a..b", "", false},
		{"192.0.2.1", "", false},
		{"host.123", "", false},
		{"exa mple.com", "", false},
		{"exa_mple.com", "", false},
		{"ex\x00ample.com", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeHostName([]byte(tt.name))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("normalizeHostName(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestClientInitialKeys(t *testing.T) {
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	tests := []struct {
		version            uint32
		key, iv, headerKey string
	}{
		// RFC 9001 Appendix A.1.
		{0x00000001, "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
		// RFC 9369 Appendix A.1.
		{0x6b3343cf, "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9"},
	}
	for _, tt := range tests {
		version, ok := quicVersionFor(tt.version)
		if !ok {
			t.Fatalf("version %#x not supported", tt.version)
		}
		key, iv, headerKey, ok := clientInitialKeys(version, dcid)
		if !ok {
			t.Fatalf("version %#x: key derivation failed", tt.version)
		}
		for _, field := range []struct {
			name    string
			got     []byte
			wantHex string
		}{{"key", key, tt.key}, {"iv", iv, tt.iv}, {"hp", headerKey, tt.headerKey}} {
			if hex.EncodeToString(field.got) != field.wantHex {
				t.Errorf("version %#x %s = %x, want %s", tt.version, field.name, field.got, field.wantHex)
			}
		}
	}
}

func TestFromQUICRFC9001ClientInitial(t *testing.T) {
	packet := readHexFile(t, "rfc9001_a2_client_initial.hex")
	original := bytes.Clone(packet)
	got, ok := FromQUIC(packet)
	if !ok || got != "example.com" {
		t.Fatalf("FromQUIC = %q, %v; want \"example.com\", true", got, ok)
	}
	if !bytes.Equal(packet, original) {
		t.Error("FromQUIC modified its input")
	}
	// A coalesced packet after it in the same datagram changes nothing.
	if got, ok := FromQUIC(append(bytes.Clone(packet), 0x40, 1, 2, 3)); !ok || got != "example.com" {
		t.Errorf("with trailing bytes: FromQUIC = %q, %v", got, ok)
	}
}

func TestFromQUICRFC9001Corrupted(t *testing.T) {
	packet := readHexFile(t, "rfc9001_a2_client_initial.hex")
	// Every byte is covered: the header fields by the parse or (as associated
	// data, and through the DCID by the keys) by the AEAD tag, the packet
	// number by header protection, the payload by the tag.
	for i := range packet {
		corrupted := bytes.Clone(packet)
		corrupted[i] ^= 0x01
		if got, ok := FromQUIC(corrupted); ok {
			t.Fatalf("byte %d flipped: FromQUIC = %q, true; want false", i, got)
		}
	}
	for cut := 0; cut < len(packet); cut++ {
		if got, ok := FromQUIC(packet[:cut]); ok {
			t.Fatalf("first %d bytes: FromQUIC = %q, true; want false", cut, got)
		}
	}
}

// initialPacket describes a client Initial packet for sealInitial.
type initialPacket struct {
	version            uint32
	dcid, scid, token  []byte
	packetNumber       uint32
	packetNumberLength int
	frames             []byte
}

// sealInitial builds and protects a client Initial packet the way a QUIC
// client does (RFC 9001 section 5), so tests can vary what FromQUIC opens.
func sealInitial(t testing.TB, p initialPacket) []byte {
	t.Helper()
	version, ok := quicVersionFor(p.version)
	if !ok {
		t.Fatalf("version %#x not supported", p.version)
	}
	key, iv, headerKey, ok := clientInitialKeys(version, p.dcid)
	if !ok {
		t.Fatal("deriving keys failed")
	}
	header := []byte{0xc0 | version.initialType<<4 | byte(p.packetNumberLength-1)}
	header = binary.BigEndian.AppendUint32(header, p.version)
	header = append(header, byte(len(p.dcid)))
	header = append(header, p.dcid...)
	header = append(header, byte(len(p.scid)))
	header = append(header, p.scid...)
	header = appendVarint(header, uint64(len(p.token)))
	header = append(header, p.token...)
	// Always a 2-byte length, as most clients write it.
	length := p.packetNumberLength + len(p.frames) + aeadTagLength
	header = append(header, 0x40|byte(length>>8), byte(length))
	packetNumberOffset := len(header)
	var packetNumber [4]byte
	binary.BigEndian.PutUint32(packetNumber[:], p.packetNumber)
	header = append(header, packetNumber[4-p.packetNumberLength:]...)

	nonce := bytes.Clone(iv)
	for i := range 4 {
		nonce[aeadNonceLength-4+i] ^= packetNumber[i]
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	packet := aead.Seal(bytes.Clone(header), nonce, p.frames, header)

	headerBlock, _ := aes.NewCipher(headerKey)
	var mask [16]byte
	sampleOffset := packetNumberOffset + headerProtectionSkip
	headerBlock.Encrypt(mask[:], packet[sampleOffset:sampleOffset+headerSampleLength])
	packet[0] ^= mask[0] & 0x0f
	for i := range p.packetNumberLength {
		packet[packetNumberOffset+i] ^= mask[1+i]
	}
	return packet
}

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x8000_0000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc000_0000_0000_0000)
}

func cryptoFrame(offset int, data []byte) []byte {
	frame := []byte{frameTypeCrypto}
	frame = appendVarint(frame, uint64(offset))
	frame = appendVarint(frame, uint64(len(data)))
	return append(frame, data...)
}

// handshakeMessage strips the record header from a ClientHello record.
func handshakeMessage(record []byte) []byte { return record[recordHeaderLength:] }

func TestFromQUICSealed(t *testing.T) {
	const name = "quic.example.com"
	hello := handshakeMessage(clientHello(t, name))
	nameEnd := bytes.Index(hello, []byte(name)) + len(name)
	split := nameEnd / 2
	padding := make([]byte, 64)

	ack := []byte{frameTypeAck, 0, 0, 1, 0, 0, 0} // largest 0, delay 0, 1 range: gap 0, length 0
	tests := []struct {
		name   string
		packet initialPacket
		want   string
		wantOK bool
	}{
		{"v1 one frame", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4, 5, 6, 7, 8}, packetNumberLength: 1,
			frames: append(cryptoFrame(0, hello), padding...)}, name, true},
		{"v2 one frame", initialPacket{version: 0x6b3343cf, dcid: []byte{9, 8, 7, 6, 5, 4, 3, 2}, scid: []byte{1}, packetNumberLength: 2, packetNumber: 0x1234,
			frames: append(cryptoFrame(0, hello), padding...)}, name, true},
		{"v1 frames out of order with ping and ack", initialPacket{version: 1, dcid: bytes.Repeat([]byte{0xaa}, 20), token: []byte("retry-token"), packetNumberLength: 4, packetNumber: 7,
			frames: concat([]byte{frameTypePing}, cryptoFrame(split, hello[split:]), padding, ack, cryptoFrame(0, hello[:split]))}, name, true},
		{"v1 overlapping frames", initialPacket{version: 1, dcid: []byte{1}, packetNumberLength: 1,
			frames: concat(cryptoFrame(split-10, hello[split-10:]), cryptoFrame(0, hello[:split]), padding)}, name, true},
		{"v1 first part only, name inside it", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4}, packetNumberLength: 1,
			frames: concat(cryptoFrame(0, hello[:nameEnd]), padding)}, name, true},
		{"v1 gap before the name", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4}, packetNumberLength: 1,
			frames: concat(cryptoFrame(0, hello[:split]), cryptoFrame(split+1, hello[split+1:]), padding)}, "", false},
		{"v1 no crypto frame", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4}, packetNumberLength: 1,
			frames: concat([]byte{frameTypePing}, padding)}, "", false},
		{"v1 crypto not at offset 0", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4}, packetNumberLength: 1,
			frames: concat(cryptoFrame(100, hello), padding)}, "", false},
		{"v1 stream frame before the crypto frame", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4}, packetNumberLength: 1,
			frames: concat([]byte{0x08, 0, 0}, cryptoFrame(0, hello), padding)}, "", false},
		{"v1 crypto frame longer than the payload", initialPacket{version: 1, dcid: []byte{1, 2, 3, 4}, packetNumberLength: 1,
			frames: concat(padding, []byte{frameTypeCrypto, 0, 0x7f, 0xff}, hello[:100])}, "", false},
		{"v1 dcid too long", initialPacket{version: 1, dcid: bytes.Repeat([]byte{1}, 21), packetNumberLength: 1,
			frames: append(cryptoFrame(0, hello), padding...)}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FromQUIC(sealInitial(t, tt.packet))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("FromQUIC = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFromQUICRejectsOtherPackets(t *testing.T) {
	hello := handshakeMessage(clientHello(t, "other.example.com"))
	v1 := sealInitial(t, initialPacket{version: 1, dcid: []byte{1, 2, 3, 4, 5, 6, 7, 8}, packetNumberLength: 1,
		frames: append(cryptoFrame(0, hello), make([]byte, 32)...)})
	tests := []struct {
		name   string
		packet []byte
	}{
		{"empty", nil},
		{"short header", append([]byte{0x40}, v1[1:]...)},
		{"version negotiation", concat([]byte{0xc0, 0, 0, 0, 0}, v1[5:])},
		{"unknown version", concat([]byte{v1[0], 0xff, 0, 0, 0x1d}, v1[5:])},
		{"handshake packet type", concat([]byte{v1[0] | 0x20}, v1[1:])},
		{"v1 initial labelled as v2", concat([]byte{v1[0]}, []byte{0x6b, 0x33, 0x43, 0xcf}, v1[5:])},
		{"dns query", []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := FromQUIC(tt.packet); ok {
				t.Errorf("FromQUIC = %q, true; want false", got)
			}
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestFromTLSAllocations(t *testing.T) {
	hello := clientHello(t, "alloc.example.com")
	allocs := testing.AllocsPerRun(100, func() { FromTLS(hello) })
	if allocs > 1 {
		t.Errorf("FromTLS allocates %v times per call; want at most 1 (the result)", allocs)
	}
}

func BenchmarkFromTLS(b *testing.B) {
	hello := clientHello(b, "bench.example.com")
	b.SetBytes(int64(len(hello)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := FromTLS(hello); !ok {
			b.Fatal("no name")
		}
	}
}

func BenchmarkFromQUIC(b *testing.B) {
	packet := readHexFile(b, "rfc9001_a2_client_initial.hex")
	b.SetBytes(int64(len(packet)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := FromQUIC(packet); !ok {
			b.Fatal("no name")
		}
	}
}
