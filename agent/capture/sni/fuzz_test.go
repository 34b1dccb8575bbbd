package sni

import (
	"bytes"
	"testing"
)

// Seed corpora live in testdata/fuzz/<Target>/: crypto/tls ClientHellos,
// truncations of them, the RFC 9001 packet and sealed v1/v2 Initials.

func FuzzFromTLS(f *testing.F) {
	f.Add(clientHello(f, "seed.example.com"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		original := bytes.Clone(payload)
		name, ok := FromTLS(payload)
		checkResult(t, name, ok)
		if !bytes.Equal(payload, original) {
			t.Fatal("FromTLS modified its input")
		}
		// The handshake parser must agree whether or not a record header
		// is in front.
		if len(payload) > recordHeaderLength {
			fromHandshake(payload[recordHeaderLength:])
		}
	})
}

func FuzzFromQUIC(f *testing.F) {
	f.Add(readHexFile(f, "rfc9001_a2_client_initial.hex"))
	f.Fuzz(func(t *testing.T, packet []byte) {
		original := bytes.Clone(packet)
		name, ok := FromQUIC(packet)
		checkResult(t, name, ok)
		if !bytes.Equal(packet, original) {
			t.Fatal("FromQUIC modified its input")
		}
		// Decrypting random bytes almost never succeeds, so also drive the
		// frame walk and the ClientHello parser with the input directly.
		if data, ok := reassembleCrypto(packet); ok {
			name, ok := fromHandshake(data)
			checkResult(t, name, ok)
		}
	})
}

func checkResult(t *testing.T, name string, ok bool) {
	t.Helper()
	if !ok {
		if name != "" {
			t.Fatalf("a name %q with ok=false", name)
		}
		return
	}
	again, valid := normalizeHostName([]byte(name))
	if !valid || again != name {
		t.Fatalf("returned %q, which is not a lowercase DNS name", name)
	}
}
