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
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

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
		paced  atomic.Uint64
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		stats, runErr = Live(ctx, LiveOptions{
			Interfaces: interfaces,
			SNI:        testSNI(sniName),
			// The CPU governor's hook: called after every packet read.
			Pace: func(context.Context) { paced.Add(1) },
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
	if paced.Load() < stats.Packets {
		t.Errorf("Pace called %d times for %d packets", paced.Load(), stats.Packets)
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

// TestLiveStatusLoopback checks that a live capture reports its running
// counters and interfaces while it runs.
func TestLiveStatusLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	statuses := make(chan LiveStatus, 256)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := Live(ctx, LiveOptions{
			Interfaces:     []string{"lo"},
			StatusInterval: 20 * time.Millisecond,
			OnStatus: func(st LiveStatus) {
				select {
				case statuses <- st:
				default:
				}
			},
		}, func(Observation) {})
		done <- err
	}()
	defer func() {
		cancel()
		if done != nil {
			if err := <-done; err != nil {
				t.Errorf("Live: %v", err)
			}
		}
	}()

	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dns := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	for i := 0; ; i++ {
		if i == 500 {
			t.Fatal("no status with counted names")
		}
		if _, err := conn.WriteTo(dnsQuery(t, 1, fmt.Sprintf("status%d.live-test.example", i)), dns); err != nil {
			t.Fatal(err)
		}
		var st LiveStatus
		select {
		case st = <-statuses:
		case err := <-done:
			done = nil
			t.Fatalf("Live ended: %v", err)
		}
		if len(st.Interfaces) != 1 || st.Interfaces[0] != "lo" {
			t.Fatalf("interfaces = %v, want [lo]", st.Interfaces)
		}
		if st.Stats.Names > 0 {
			if st.Stats.Packets < st.Stats.Names {
				t.Errorf("stats = %+v: fewer packets than names", st.Stats)
			}
			return
		}
	}
}

// TestEthernetFilterInKernel runs the filter built for 14-byte Ethernet
// headers (what macOS uses on en0) in the Linux kernel: "lo" frames carry an
// Ethernet header on SOCK_RAW sockets. The kernel must accept the program
// and keep DNS while dropping other traffic.
func TestEthernetFilterInKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("packet sockets need root")
	}
	cfg, _ := linkFilterConfig(layers.LinkTypeEthernet, defaultSnapLen)
	prog, err := captureFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := afpacket.NewTPacket(afpacket.OptInterface("lo"), afpacket.OptSocketType(afpacket.SocketRaw),
		afpacket.OptPollTimeout(50*time.Millisecond), afpacket.OptBlockTimeout(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if err := tp.SetBPF(raw); err != nil {
		t.Fatalf("kernel refused the filter: %v", err)
	}
	// Drain what passed before the filter was attached.
	for {
		if _, _, err := tp.ZeroCopyReadPacketData(); err != nil {
			break
		}
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dec := NewDecoder(layers.LinkTypeEthernet)
	var names []string
	for i := 0; i < 50 && len(names) == 0; i++ {
		// Port 9 (discard) must not pass; port 53 must.
		if _, err := conn.WriteTo(dnsQuery(t, 1, "dropped.kernel-test.example"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(dnsQuery(t, 1, "kept.kernel-test.example"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}); err != nil {
			t.Fatal(err)
		}
		for {
			data, ci, err := tp.ZeroCopyReadPacketData()
			if err != nil {
				break
			}
			dec.Decode(data, ci.Timestamp, func(o Observation) {
				if strings.HasSuffix(o.Name, ".kernel-test.example") {
					names = append(names, o.Name)
				}
			})
		}
	}
	if len(names) == 0 {
		t.Fatal("no DNS query passed the Ethernet filter")
	}
	for _, n := range names {
		if n != "kept.kernel-test.example" {
			t.Errorf("%s passed the filter", n)
		}
	}
}
