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

// ClientHello returns the first TLS record crypto/tls writes as a client
// with cfg: its ClientHello, read from an in-memory pipe that is then
// abandoned.
func ClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	clientConn, serverConn := net.Pipe()
	defer serverConn.Close()
	go func() {
		_ = tls.Client(clientConn, cfg).Handshake() // fails once the pipe is closed
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
	return record
}

// BigClientHello returns the ClientHello crypto/tls writes for serverName
// with a post-quantum key share first and many ALPN protocols: about 2 KB,
// as browsers send them, so it takes two TCP segments or two QUIC Initial
// packets.
func BigClientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	protocols := []string{"h2", "http/1.1"}
	for i := range 24 {
		protocols = append(protocols, "shadowmap-test-protocol-"+strings.Repeat("x", i))
	}
	record := ClientHello(t, &tls.Config{
		ServerName:       serverName,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		NextProtos:       protocols,
	})
	if len(record) < 1500 {
		t.Fatalf("ClientHello is %d bytes; want one that needs two packets", len(record))
	}
	return record
}
