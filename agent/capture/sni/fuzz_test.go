package sni

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
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

// quicReassemblerSeeds are three packets each: a big ClientHello sealed in
// three Initial packets, in order and shuffled, and the same CRYPTO frames
// unencrypted.
func quicReassemblerSeeds(tb testing.TB) [][3][]byte {
	hello := handshakeMessage(bigClientHello(tb, "seed.quic.example.com"))
	at := bytes.Index(hello, []byte("seed.quic"))
	sealed := splitInitials(tb, []byte{1, 2, 3, 4, 5, 6, 7, 8}, hello, at/2, at+4)
	return [][3][]byte{
		{sealed[0], sealed[1], sealed[2]},
		{sealed[2], sealed[0], sealed[1]},
		{cryptoFrame(at+4, hello[at+4:]), cryptoFrame(0, hello[:at]), concat([]byte{frameTypePing}, cryptoFrame(at-1, hello[at-1:at+4]))},
	}
}

// TestWriteQUICReassemblerSeeds rewrites testdata/fuzz/FuzzQUICReassembler/
// with -update.
func TestWriteQUICReassemblerSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpus")
	}
	for i, seed := range quicReassemblerSeeds(t) {
		golden.WriteFuzzSeed(t, "FuzzQUICReassembler", fmt.Sprintf("seed-%02d", i), seed[0], seed[1], seed[2])
	}
}

func FuzzQUICReassembler(f *testing.F) {
	for _, seed := range quicReassemblerSeeds(f) {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, first, second, third []byte) {
		// As packets, in order and reversed: decryption of fuzzed bytes
		// rarely succeeds, but the seeds do, and nothing may panic.
		packets := [][]byte{first, second, third}
		for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}} {
			var a QUICReassembler
			found := 0
			for _, i := range order {
				original := bytes.Clone(packets[i])
				name, ok := a.Add(packets[i], testEpoch)
				checkResult(t, name, ok)
				if ok {
					found++
				}
				if !bytes.Equal(packets[i], original) {
					t.Fatal("Add modified its input")
				}
			}
			if found > 1 {
				t.Fatalf("one connection gave %d names", found)
			}
		}
		// As decrypted frames, to drive the CRYPTO stream reassembly
		// behind the AEAD.
		var c quicConnection
		for _, frames := range packets {
			if !c.addFrames(frames) {
				break
			}
			checkSpans(t, &c)
			name, ok := fromHandshake(c.stream[:c.contiguous()])
			checkResult(t, name, ok)
		}
	})
}

// checkSpans fails unless c's spans are sorted, disjoint, not touching and
// inside its stream.
func checkSpans(t *testing.T, c *quicConnection) {
	t.Helper()
	for i, s := range c.spans[:c.nspans] {
		if s.start >= s.end || s.end > len(c.stream) || len(c.stream) > maxCryptoDataLength {
			t.Fatalf("span %d %v, stream %d bytes", i, s, len(c.stream))
		}
		if i > 0 && c.spans[i-1].end >= s.start {
			t.Fatalf("spans %v and %v overlap or touch", c.spans[i-1], s)
		}
	}
}
