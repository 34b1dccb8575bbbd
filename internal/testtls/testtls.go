// Package testtls makes real TLS handshake bytes for tests of the agent's
// server-name parsing: what crypto/tls sends, not hand-built records.
package testtls

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
)

// recordHeaderLength is a TLS record header: type, version, length.
const recordHeaderLength = 5

// BigClientHello returns the ClientHello record crypto/tls writes for
// serverName with a post-quantum key share first and many ALPN protocols:
// about 2 KB, as browsers send them, so it takes two TCP segments or two
// QUIC Initial packets.
func BigClientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	clientConn, serverConn := net.Pipe()
	defer serverConn.Close()
	protocols := []string{"h2", "http/1.1"}
	for i := range 24 {
		protocols = append(protocols, "shadowmap-test-protocol-"+strings.Repeat("x", i))
	}
	go func() {
		client := tls.Client(clientConn, &tls.Config{
			ServerName:       serverName,
			CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
			NextProtos:       protocols,
		})
		_ = client.Handshake() // fails once the pipe is closed
		clientConn.Close()
	}()
	header := make([]byte, recordHeaderLength)
	if _, err := io.ReadFull(serverConn, header); err != nil {
		t.Fatalf("reading the ClientHello record header: %v", err)
	}
	record := make([]byte, recordHeaderLength+int(binary.BigEndian.Uint16(header[3:5])))
	copy(record, header)
	if _, err := io.ReadFull(serverConn, record[recordHeaderLength:]); err != nil {
		t.Fatalf("reading the ClientHello record body: %v", err)
	}
	if len(record) < 1500 {
		t.Fatalf("ClientHello is %d bytes; want one that needs two packets", len(record))
	}
	return record
}
