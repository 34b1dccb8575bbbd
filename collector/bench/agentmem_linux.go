//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/shadowmap/shadowmap/signatures"
)

// Agent runs the agent benchmark: a real collector on loopback, the agent
// binary as a child process capturing on "lo", and lookups at o.Rate per
// second for o.Duration, reading the agent's memory and CPU from /proc
// every second. It needs root (the agent captures with AF_PACKET).
func Agent(ctx context.Context, o AgentOptions) (AgentResult, error) {
	var res AgentResult
	if o.Rate <= 0 || o.Duration <= 0 {
		return res, errors.New("bench agent: rate and duration must be positive")
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.DNSAddr == "" {
		o.DNSAddr = "127.0.84.53"
	}
	bin, err := exec.LookPath(o.AgentBinary)
	if err != nil {
		return res, fmt.Errorf("bench agent: the agent binary (build it with `make build`): %w", err)
	}
	dir, err := os.MkdirTemp("", "shadowmap-bench-agent-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	url, _, stopCollector, err := startCollector(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return res, fmt.Errorf("bench agent: start collector: %w", err)
	}
	defer stopCollector()
	secretFile := filepath.Join(dir, "enroll-secret")
	if err := os.WriteFile(secretFile, []byte(benchSecret), 0o600); err != nil {
		return res, err
	}
	catalog, err := signatures.Embedded()
	if err != nil {
		return res, err
	}
	names := lookupMix(catalog)

	actx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	cmd := exec.CommandContext(actx, bin, "run", "--collector", url, "--enroll-secret-file", secretFile,
		"--state-dir", filepath.Join(dir, "agent"), "--interfaces", "lo", "--interval", o.Interval.String(), "--user", "bench")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := os.MkdirAll(filepath.Join(dir, "agent"), 0o700); err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("bench agent: start agent: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	conn, err := net.Dial("udp", net.JoinHostPort(o.DNSAddr, "53"))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	// Give the agent a moment to load its catalog and attach the capture.
	select {
	case <-time.After(2 * time.Second):
	case err := <-exited:
		return res, fmt.Errorf("bench agent: the agent stopped at start (%v); see its log", err)
	}

	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	send := time.NewTicker(10 * time.Millisecond)
	defer send.Stop()
	sample := time.NewTicker(time.Second)
	defer sample.Stop()
	var msg []byte
	var id uint16
	var last AgentSample
loop:
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-exited:
			return res, fmt.Errorf("bench agent: the agent stopped during the run: %v", err)
		case <-send.C:
			elapsed := time.Since(start)
			if elapsed >= o.Duration {
				break loop
			}
			// Catch up to the rate: tickers drop ticks when late.
			for due := int64(elapsed.Seconds() * float64(o.Rate)); res.LookupsSent < due; {
				id++
				msg = appendQuery(msg[:0], id, names[rng.IntN(len(names))])
				conn.Write(msg) // nobody answers; the capture sees the query
				res.LookupsSent++
			}
		case <-sample.C:
			s, err := readProc(pid)
			if err != nil {
				return res, err
			}
			s.Elapsed, s.Sent = time.Since(start), res.LookupsSent
			if s.Elapsed > time.Minute {
				res.PeakRSSKiB = max(res.PeakRSSKiB, s.RSSKiB)
			}
			if o.Progress != nil && int(s.Elapsed/time.Second)%10 == 0 {
				o.Progress(s)
			}
			last = s
		}
	}
	res.Duration = time.Since(start)
	final, err := readProc(pid)
	if err != nil {
		final = last
	}
	res.RSSKiB, res.HWMKiB = final.RSSKiB, final.HWMKiB
	res.CPUShare = float64(final.CPU) / float64(res.Duration+2*time.Second)

	// Stop the agent (it spools and uploads what it counted) and read
	// what reached the collector.
	stopAgent()
	if err := <-exited; err != nil {
		// Wait reports the cancellation that stopped the agent; any other
		// failure to wait is the bench's problem.
		var exit *exec.ExitError
		if !errors.As(err, &exit) && !errors.Is(err, context.Canceled) {
			return res, fmt.Errorf("bench agent: stop agent: %w", err)
		}
	}
	looked := map[string]bool{}
	for _, n := range names {
		if m := catalog.MatchDomain(n); m.CountsAsUse() {
			looked[m.App.ID] = true
		}
	}
	res.AppsLookedUp = len(looked)
	n, err := inventoryApps(ctx, url)
	if err != nil {
		return res, err
	}
	res.AppsInInventory = n
	return res, nil
}

// lookupMix is what a laptop looks up: names of catalog apps (with a
// tenant where the app has them) and a larger share of names no app owns.
func lookupMix(c *signatures.Catalog) []string {
	var names []string
	for i, p := range usableApps(c) {
		if i >= 40 {
			break
		}
		name := "www." + p.domain
		if p.tenant != "" {
			name = p.tenant + "." + p.domain
		}
		names = append(names, name)
	}
	for i := range 160 {
		names = append(names, fmt.Sprintf("cdn%d.assets.example.net", i), fmt.Sprintf("host%d.news.example.org", i))
	}
	return names
}

func appendQuery(buf []byte, id uint16, name string) []byte {
	b := dnsmessage.NewBuilder(buf, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	n, err := dnsmessage.NewName(name + ".")
	if err != nil {
		return buf
	}
	b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	out, err := b.Finish()
	if err != nil {
		return buf
	}
	return out
}

// readProc reads a process's resident memory, its high-water mark and its
// CPU time from /proc.
func readProc(pid int) (AgentSample, error) {
	var s AgentSample
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			s.RSSKiB = n
		case "VmHWM":
			s.HWMKiB = n
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name (which may hold spaces) start after
	// the last ')'; utime and stime are the 12th and 13th of those.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f2 := strings.Fields(rest)
	if len(f2) > 12 {
		ut, _ := strconv.ParseInt(f2[11], 10, 64)
		st, _ := strconv.ParseInt(f2[12], 10, 64)
		const clockTicks = 100 // USER_HZ on every Linux the collector runs on
		s.CPU = time.Duration(ut+st) * time.Second / clockTicks
	}
	return s, nil
}

// inventoryApps counts the apps the collector's inventory shows.
func inventoryApps(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/apps?limit=1000", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+benchAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench agent: read inventory: %s", resp.Status)
	}
	var page struct {
		Apps []json.RawMessage `json:"apps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return 0, fmt.Errorf("bench agent: read inventory: %w", err)
	}
	return len(page.Apps), nil
}
