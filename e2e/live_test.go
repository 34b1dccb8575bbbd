//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/shadowmap/shadowmap/agent"
)

func dnsQuery(t *testing.T, name string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestLiveCaptureToCollector captures real DNS lookups on the loopback
// interface with the agent's live source and finds them in a real
// collector's inventory. It needs root (raw sockets) on Linux.
func TestLiveCaptureToCollector(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	// A root without CAP_NET_RAW (some containers) cannot capture at all:
	// say so instead of failing on the environment.
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Skipf("no packet socket here (%v): the live test needs CAP_NET_RAW", err)
	}
	syscall.Close(fd)
	url := startCollector(t)
	stateDir := t.TempDir()
	a, err := agent.New(agent.Config{
		CollectorURL: url, EnrollSecret: enrollSecret, StateDir: stateDir, FlushInterval: 200 * time.Millisecond,
		User: "bob", Hostname: "bob-laptop", OS: "linux", Version: "e2e", Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx, agent.LiveSource([]string{"lo"}, slog.New(slog.DiscardHandler), nil)) }()

	conn, err := net.Dial("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	found := false
	deadline := time.Now().Add(15 * time.Second)
	for !found && time.Now().Before(deadline) {
		// Keep sending until capture is attached and the upload lands.
		conn.Write(dnsQuery(t, "acme.zendesk.com"))
		conn.Write(dnsQuery(t, "www.example.org"))
		time.Sleep(100 * time.Millisecond)
		req, _ := http.NewRequest("GET", url+"/api/v1/apps", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Apps []struct {
				ID      string   `json:"id"`
				Tenants []string `json:"tenants"`
			} `json:"apps"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		for _, app := range page.Apps {
			if app.ID == "zendesk" && len(app.Tenants) == 1 && app.Tenants[0] == "acme" {
				found = true
			}
		}
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("agent run: %v", err)
	}
	if !found {
		t.Fatal("the lookups captured on loopback never reached the collector")
	}
}
