//go:build linux

package capture

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

func TestCaptureFilter(t *testing.T) {
	const snapLen = 1500
	prog, err := captureFilter(snapLen, false)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	// The full program, with the loopback rule, must assemble too.
	full, err := captureFilter(snapLen, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(full); err != nil {
		t.Fatal(err)
	}

	query := dnsQuery(t, 1, "app.example.com")
	clientHello := []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00}
	appData := []byte{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}
	quicInitial := []byte{0xc3, 0x00, 0x00, 0x00, 0x01, 0x08}
	quicShort := []byte{0x43, 0x01, 0x02, 0x03}
	bigUDP4 := udpPacket(t, flow{srcPort: 53, dstPort: 40000}, bytes.Repeat([]byte{0}, 3000))
	bigUDP6 := udpPacket(t, flow{ipv6: true, srcPort: 53, dstPort: 40000}, bytes.Repeat([]byte{0}, 3000))
	frags4 := ipv4Fragments(t, bigUDP4, 1400)
	frags6 := ipv6Fragments(t, bigUDP6, 1400, 7)

	tests := []struct {
		name   string
		packet []byte
		keep   bool
	}{
		{"udp4 dns query", udpPacket(t, flow{srcPort: 40000, dstPort: 53}, query), true},
		{"udp6 dns query", udpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 53}, query), true},
		{"udp4 dns response", udpPacket(t, flow{srcPort: 53, dstPort: 40000, reply: true}, query), true},
		{"tcp4 dns syn", tcpPacket(t, flow{srcPort: 40000, dstPort: 53}, 1, true, false, nil), true},
		{"tcp6 dns response", tcpPacket(t, flow{ipv6: true, srcPort: 53, dstPort: 40000, reply: true}, 1, false, false, query), true},
		{"tcp4 client hello", tcpPacket(t, flow{srcPort: 40000, dstPort: 443}, 1, false, false, clientHello), true},
		{"tcp6 client hello", tcpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 443}, 1, false, false, clientHello), true},
		{"tcp4 tls application data", tcpPacket(t, flow{srcPort: 40000, dstPort: 443}, 1, false, false, appData), false},
		{"tcp6 tls application data", tcpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 443}, 1, false, false, appData), false},
		{"tcp4 443 syn", tcpPacket(t, flow{srcPort: 40000, dstPort: 443}, 1, true, false, nil), false},
		{"tcp4 server hello", tcpPacket(t, flow{srcPort: 443, dstPort: 40000, reply: true}, 1, false, false, clientHello), false},
		{"udp4 quic initial", udpPacket(t, flow{srcPort: 40000, dstPort: 443}, quicInitial), true},
		{"udp6 quic initial", udpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 443}, quicInitial), true},
		{"udp4 quic short header", udpPacket(t, flow{srcPort: 40000, dstPort: 443}, quicShort), false},
		{"udp6 quic short header", udpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 443}, quicShort), false},
		{"udp4 other port", udpPacket(t, flow{srcPort: 40000, dstPort: 123}, query), false},
		{"tcp6 other port", tcpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 80}, 1, false, false, clientHello), false},
		{"ipv4 first fragment", frags4[0], true},
		{"ipv4 later fragment", frags4[1], true},
		{"ipv6 first fragment", frags6[0], true},
		{"ipv6 later fragment", frags6[1], true},
		{"not ip", []byte{0x00, 0x01, 0x08, 0x00, 0x06, 0x04}, false},
		{"empty", nil, false},
		{"truncated ipv4", udpPacket(t, flow{srcPort: 40000, dstPort: 53}, query)[:16], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vm.Run(tt.packet)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if tt.keep {
				want = snapLen
			}
			if got != want {
				t.Errorf("filter returned %d, want %d", got, want)
			}
		})
	}
}

func TestLiveLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	tests := []struct {
		name       string
		interfaces []string
	}{
		{"named lo", []string{"lo"}},
		{"all interfaces", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testLiveLoopback(t, tt.interfaces, fmt.Sprintf("run%d", i))
		})
	}
}

// testLiveLoopback sends DNS queries to 127.0.0.1:53 (nothing needs to
// listen) and, when port 443 can be bound, a TLS ClientHello, and checks
// that Live reports each name exactly once.
func testLiveLoopback(t *testing.T, interfaces []string, run string) {
	suffix := "." + run + ".live-test.example"
	sniName := "tls" + suffix

	obs := make(chan Observation, 1024)
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg     sync.WaitGroup
		stats  Stats
		runErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		stats, runErr = Live(ctx, LiveOptions{
			Interfaces: interfaces,
			SNI:        testSNI(sniName),
		}, func(o Observation) {
			if strings.HasSuffix(o.Name, suffix) {
				obs <- o
			}
		})
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
	}
	defer stop()

	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dns := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	send := func(name string) {
		t.Helper()
		if _, err := conn.WriteTo(dnsQuery(t, 1, name), dns); err != nil {
			t.Fatal(err)
		}
	}

	// Live has no "ready" signal: probe until the capture sees a query.
	seen := map[string]int{}
	ready := false
	for i := 0; !ready; i++ {
		if i == 100 {
			t.Fatal("capture saw none of the probe queries")
		}
		send(fmt.Sprintf("probe%d%s", i, suffix))
		select {
		case o := <-obs:
			seen[o.Name]++
			ready = true
		case <-time.After(30 * time.Millisecond):
		}
	}

	wantSNI := sniHandshake(t, sniName)
	target := "target" + suffix
	send(target)
	// Packets of one socket arrive in order: once the sentinel is seen,
	// every copy of the packets before it has been seen too.
	sentinel := "sentinel" + suffix
	send(sentinel)
	deadline := time.After(3 * time.Second)
	for seen[sentinel] == 0 {
		select {
		case o := <-obs:
			seen[o.Name]++
			if o.Name == sniName && o.Source != SourceSNI {
				t.Errorf("%s has source %q, want %q", o.Name, o.Source, SourceSNI)
			}
		case <-deadline:
			t.Fatalf("sentinel query not captured; seen %v", seen)
		}
	}
	stop()
	if runErr != nil {
		t.Fatalf("Live: %v", runErr)
	}
	if seen[target] != 1 {
		t.Errorf("target seen %d times, want 1 (seen %v)", seen[target], seen)
	}
	if wantSNI && seen[sniName] != 1 {
		t.Errorf("SNI %s seen %d times, want 1 (seen %v)", sniName, seen[sniName], seen)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times, want 1", name, n)
		}
	}
	if stats.Packets == 0 || stats.Names < 3 {
		t.Errorf("stats = %+v, want packets and at least 3 names", stats)
	}
}

// testSNI stands in for package sni: it reports name when the payload
// contains it.
func testSNI(name string) func([]byte, bool) (string, bool) {
	return func(payload []byte, quic bool) (string, bool) {
		if !quic && bytes.Contains(payload, []byte(name)) {
			return name, true
		}
		return "", false
	}
}

// sniHandshake sends a TLS ClientHello for name to 127.0.0.1:443 and
// reports whether it could (port 443 may be taken).
func sniHandshake(t *testing.T, name string) bool {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:443")
	if err != nil {
		t.Logf("SNI not checked: %v", err)
		return false
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Read the ClientHello, then hang up: the handshake fails, the
		// ClientHello has been on the wire.
		_, _ = c.Read(make([]byte, 4096))
	}()
	raw, err := net.Dial("tcp4", "127.0.0.1:443")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12})
	// The handshake fails when the server hangs up; the ClientHello has
	// been sent by then.
	_ = c.Handshake()
	return true
}
