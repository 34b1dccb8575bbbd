package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent"
	"github.com/shadowmap/shadowmap/agent/aggregate"
)

const agentChildEnv = "SHADOWMAP_E2E_AGENT_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(agentChildEnv); dir != "" {
		runAgentChild(dir, os.Getenv("SHADOWMAP_E2E_COLLECTOR"))
		return
	}
	os.Exit(m.Run())
}

// runAgentChild is the agent process the kill test starts: it sees
// acme.slack.com every millisecond and flushes every 50 ms.
func runAgentChild(stateDir, url string) {
	a, err := agent.New(agent.Config{CollectorURL: url, EnrollSecret: enrollSecret, StateDir: stateDir,
		FlushInterval: 50 * time.Millisecond, User: "carol", Hostname: "carol-laptop", OS: "linux", Version: "e2e"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = a.Run(ctx, func(ctx context.Context, emit func(agent.Name)) error {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				emit(agent.Name{Name: "acme.slack.com", Source: aggregate.SourceDNS, Time: now})
			}
		}
	})
	a.Close()
	if err != nil {
		os.Exit(1)
	}
}

// metric reads one counter from the collector's /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentSurvivesSIGKILL kills the agent with SIGKILL while it spools
// and uploads, starts it again on the same state, and checks that it
// carries on as the same device and resends at most the one batch that
// was in flight: nothing acknowledged is sent twice.
func TestAgentSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts agent processes")
	}
	url := startCollector(t)
	stateDir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), agentChildEnv+"="+stateDir, "SHADOWMAP_E2E_COLLECTOR="+url)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	const accepted = `shadowmap_ingest_batches_total{result="accepted"}`
	const duplicate = `shadowmap_ingest_batches_total{result="duplicate"}`

	first := start()
	waitFor(t, "uploads from the first agent", func() bool { return metric(t, url, accepted) >= 10 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	before := metric(t, url, accepted)

	second := start()
	waitFor(t, "uploads after the restart", func() bool { return metric(t, url, accepted) >= before+10 })
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("agent after SIGTERM: %v", err)
	}

	if dups := metric(t, url, duplicate); dups > 1 {
		t.Errorf("%v batches were sent again after the restart; at most the one in flight may be", dups)
	}
	resp := adminGet(t, url, "/api/v1/devices")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), `"id":"dev_`); n != 1 {
		t.Errorf("%d devices after the restart, want 1 (the enrollment must survive SIGKILL): %s", n, body)
	}
}
