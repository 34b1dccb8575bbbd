//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/shadowmap/shadowmap/agent"
)

// startDNSServer serves a small zone on addr:53 over UDP and TCP with
// miekg/dns: a company alias that is a CNAME to its Zendesk tenant (the
// agent must follow the chain to the SaaS behind it), a Slack tenant and a
// name no app owns.
func startDNSServer(t *testing.T, addr string) {
	t.Helper()
	zone := map[string][]string{
		"help.acme-corp.example.": {"help.acme-corp.example. 60 IN CNAME acmecorp.zendesk.com.", "acmecorp.zendesk.com. 60 IN A 192.0.2.10"},
		"acme.slack.com.":         {"acme.slack.com. 60 IN A 192.0.2.20"},
		"www.example.org.":        {"www.example.org. 60 IN A 192.0.2.30"},
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		if len(req.Question) == 1 {
			for _, rr := range zone[dns.CanonicalName(req.Question[0].Name)] {
				r, err := dns.NewRR(rr)
				if err != nil {
					panic(err) // the zone above is fixed
				}
				m.Answer = append(m.Answer, r)
			}
		}
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	for _, network := range []string{"udp", "tcp"} {
		started := make(chan struct{})
		srv := &dns.Server{Addr: net.JoinHostPort(addr, "53"), Net: network, Handler: handler, NotifyStartedFunc: func() { close(started) }}
		errc := make(chan error, 1)
		go func() { errc <- srv.ListenAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("DNS server on %s/%s: %v", addr, network, err)
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
}

// dig runs the real dig against the test's DNS server.
func dig(t *testing.T, server string, args ...string) {
	t.Helper()
	cmd := exec.Command("dig", append([]string{"@" + server, "+tries=1", "+time=2"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
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
	if _, err := exec.LookPath("dig"); err != nil {
		t.Fatal("the live test sends its lookups with dig: install it (Debian package bind9-dnsutils)")
	}
	// A loopback address of the test's own, so nothing else on the
	// machine answers or asks there; DNS is on port 53 because that is
	// what the capture filter keeps.
	const dnsAddr = "127.0.83.53"
	startDNSServer(t, dnsAddr)
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
	go func() {
		runDone <- a.Run(ctx, agent.LiveSource([]string{"lo"}, slog.New(slog.DiscardHandler), nil, nil))
	}()

	type app struct {
		ID      string   `json:"id"`
		Tenants []string `json:"tenants"`
		Sources []string `json:"sources"`
	}
	var apps map[string]app
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		// Keep asking until capture is attached and the upload lands.
		dig(t, dnsAddr, "help.acme-corp.example", "A")
		dig(t, dnsAddr, "+tcp", "acme.slack.com", "A")
		dig(t, dnsAddr, "www.example.org", "A")
		time.Sleep(200 * time.Millisecond)
		resp := adminGet(t, url, "/api/v1/apps")
		var page struct {
			Apps []app `json:"apps"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		apps = map[string]app{}
		for _, a := range page.Apps {
			apps[a.ID] = a
		}
		if len(apps["zendesk"].Tenants) > 0 && len(apps["slack"].Tenants) > 0 {
			break
		}
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("agent run: %v", err)
	}
	// The UDP answer's CNAME leads to the Zendesk tenant; the TCP lookup
	// is Slack's. Other software on the machine may look up other names
	// on loopback meanwhile, so only these two apps are checked.
	if z := apps["zendesk"]; !slices.Equal(z.Tenants, []string{"acmecorp"}) {
		t.Errorf("zendesk through the CNAME chain: %+v (all: %+v)", z, apps)
	}
	if s := apps["slack"]; !slices.Equal(s.Tenants, []string{"acme"}) {
		t.Errorf("slack over DNS-over-TCP: %+v (all: %+v)", s, apps)
	}
}
