package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
)

// childEnv marks the test binary re-run as a collector process.
const childEnv = "SHADOWMAP_TEST_COLLECTOR_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

// runChild runs a real collector from the SHADOWMAP_* environment and
// writes its address to the file named by the child variable, then serves
// until killed.
func runChild() {
	cfg, err := config.Load("", os.Environ(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	c, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child start:", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child listen:", err)
		os.Exit(2)
	}
	addrFile := os.Getenv(childEnv)
	if err := os.WriteFile(addrFile+".tmp", []byte(ln.Addr().String()), 0o600); err != nil {
		os.Exit(2)
	}
	os.Rename(addrFile+".tmp", addrFile)
	c.Serve(ctx, ln)
}

// startChild starts the collector in a child process on dbPath and
// returns its base URL.
func startChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	addrFile := filepath.Join(dir, fmt.Sprintf("addr-%d", time.Now().UnixNano()))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"="+addrFile,
		"SHADOWMAP_DATABASE="+filepath.Join(dir, "shadowmap.db"),
		"SHADOWMAP_ENROLL_SECRET="+enrollSecret,
		"SHADOWMAP_ADMIN_TOKEN="+adminToken,
		"SHADOWMAP_INGEST_RATE_LIMIT=100000",
		"SHADOWMAP_INGEST_BURST=100000",
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			return cmd, "http://" + strings.TrimSpace(string(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the collector child did not start")
	return nil, ""
}

// TestAcknowledgedBatchesSurviveSIGKILL uploads batches from many agents
// at once, kills the collector with SIGKILL in the middle, starts it again
// on the same database, and replays every batch that had been
// acknowledged: each must come back as a duplicate, so none was lost.
func TestAcknowledgedBatchesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts collector processes")
	}
	dir := t.TempDir()
	cmd, url := startChild(t, dir)
	ctx := context.Background()
	client := api.NewClient(url, nil)

	const agents = 8
	tokens := make([]string, agents)
	for i := range tokens {
		r, err := client.Enroll(ctx, api.EnrollRequest{EnrollSecret: enrollSecret, Hostname: fmt.Sprintf("h%d", i), OS: "linux", AgentVersion: "0.1.0", User: "u"})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = r.DeviceToken
	}

	type sent struct {
		token string
		batch api.SightingsBatch
	}
	var (
		mu    sync.Mutex
		acked []sent
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	now := time.Now()
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := client.WithToken(tok)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				b := api.SightingsBatch{BatchID: fmt.Sprintf("a%d-%d", i, n), AgentVersion: "0.1.0", Sightings: []api.Sighting{
					sighting("slack", "slack.com", "acme", "u", now, int64(n+1)),
					sighting("notion", "notion.so", "", "u", now, 1),
				}}
				resp, err := agent.SendSightings(ctx, b)
				if err != nil {
					return // the collector is gone
				}
				if resp.Accepted == 2 {
					mu.Lock()
					acked = append(acked, sent{tok, b})
					mu.Unlock()
				}
			}
		}()
	}
	// Let acknowledgements pile up, then kill the collector mid-stream.
	for {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	wg.Wait()

	_, url2 := startChild(t, dir)
	client2 := api.NewClient(url2, nil)
	lost := 0
	for _, s := range acked {
		resp, err := client2.WithToken(s.token).SendSightings(ctx, s.batch)
		var he *api.HTTPError
		switch {
		case errors.As(err, &he):
			t.Fatalf("replay of %s: %v", s.batch.BatchID, err)
		case err != nil:
			t.Fatal(err)
		case !resp.Duplicate:
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged batches were lost after SIGKILL", lost, len(acked))
	}
	t.Logf("%d acknowledged batches all survived SIGKILL", len(acked))
}
