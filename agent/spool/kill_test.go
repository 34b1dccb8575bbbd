package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector/api"
)

// killChildEnv tells the test binary, re-executed, to act as the child of
// the SIGKILL tests: it names the spool directory; the _ROUND and
// _MAXBYTES variants keep ids unique and set the bound.
const killChildEnv = "SHADOWMAP_SPOOL_KILL_CHILD_DIR"

// TestKillChild is the child: it puts and acknowledges batches until it
// is killed, reporting "put ID COUNT" and "acked ID COUNT" after each call
// returned and "acking ID COUNT" before an Ack starts.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of the SIGKILL tests")
	}
	fail := func(err error) {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	round := os.Getenv(killChildEnv + "_ROUND")
	maxBytes, err := strconv.ParseInt(os.Getenv(killChildEnv+"_MAXBYTES"), 10, 64)
	if err != nil {
		fail(err)
	}
	opts := testOptions()
	opts.MaxBytes, opts.SegmentBytes = maxBytes, minSegmentBytes
	s, err := Open(dir, opts)
	if err != nil {
		fail(err)
	}
	for i := 0; i < 1_000_000; i++ {
		// Two puts for each ack, so a backlog builds up.
		if i%3 != 2 {
			b := testBatch(fmt.Sprintf("r%s-%06d", round, i), "2026-11-24", "slack", "notion")
			if err := s.Put(b); err != nil {
				fail(err)
			}
			fmt.Printf("put %s %d\n", b.BatchID, batchCount(b))
			continue
		}
		b, ok, err := s.Next()
		if err != nil {
			fail(err)
		}
		if !ok {
			continue
		}
		fmt.Printf("acking %s %d\n", b.BatchID, batchCount(b))
		if err := s.Ack(b.BatchID); err != nil {
			fail(err)
		}
		fmt.Printf("acked %s %d\n", b.BatchID, batchCount(b))
	}
	os.Exit(3) // never killed: the parent reports it
}

// batchCount sums the counts of a batch's sightings.
func batchCount(b api.SightingsBatch) int64 {
	var n int64
	for _, s := range b.Sightings {
		n += s.Count
	}
	return n
}

// killLog is what the children reported across rounds.
type killLog struct {
	put, acking, acked map[string]int64 // id -> the batch's summed counts
}

// runKillRounds runs a child per round over one spool directory and kills
// it with SIGKILL once it has reported killAfter acks.
func runKillRounds(t *testing.T, dir string, maxBytes int64, killAfter []int) killLog {
	t.Helper()
	log := killLog{put: map[string]int64{}, acking: map[string]int64{}, acked: map[string]int64{}}
	for round, after := range killAfter {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
		cmd.Env = append(os.Environ(),
			killChildEnv+"="+dir,
			fmt.Sprintf("%s_ROUND=%d", killChildEnv, round),
			fmt.Sprintf("%s_MAXBYTES=%d", killChildEnv, maxBytes))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		acks := 0
		killed := false
		for lines.Scan() {
			fields := strings.Fields(lines.Text())
			if len(fields) > 0 && fields[0] == "error" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child: %s", round, lines.Text())
			}
			if len(fields) != 3 {
				continue
			}
			id := fields[1]
			count, _ := strconv.ParseInt(fields[2], 10, 64)
			switch fields[0] {
			case "put":
				log.put[id] = count
			case "acking":
				if _, ok := log.acked[id]; ok {
					t.Errorf("round %d: acknowledged batch %s came back", round, id)
				}
				log.acking[id] = count
			case "acked":
				log.acked[id] = count
				acks++
			}
			if acks >= after && !killed {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended before it was killed: %v", round, err)
		}
	}
	return log
}

func TestSIGKILLLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	// Kill at a different point in each round; each round starts on the
	// spool the previous one was killed over.
	log := runKillRounds(t, dir, 1<<20, []int{1, 37, 200, 501})

	s := openT(t, dir, testOptions())
	returned := map[string]bool{}
	for _, b := range drain(t, s) {
		if _, ok := log.acked[b.BatchID]; ok {
			t.Errorf("acknowledged batch %s came back", b.BatchID)
		}
		returned[b.BatchID] = true
	}
	lost := 0
	for id := range log.put {
		_, acked := log.acked[id]
		_, acking := log.acking[id]
		if !acked && !acking && !returned[id] {
			lost++
			t.Errorf("batch %s was put, never acknowledged, and is lost", id)
		}
	}
	t.Logf("%d put, %d acked, %d returned after the last kill, %d lost; stats %+v",
		len(log.put), len(log.acked), len(returned), lost, s.Stats())
	if len(log.acked) == 0 || len(returned) == 0 {
		t.Fatal("the test exercised nothing")
	}
}

// TestSIGKILLWhileFolding kills children of a small spool that keeps
// folding: ids change, so it checks the counts instead. Every count put is
// either acknowledged or still pending, give or take the batches a kill
// caught mid-call.
func TestSIGKILLWhileFolding(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	killAfter := []int{50, 150, 400}
	log := runKillRounds(t, dir, 24<<10, killAfter)

	s := openT(t, dir, testOptions())
	st := s.Stats()
	if st.FoldedBatches == 0 || st.DroppedCount != 0 {
		t.Fatalf("Stats = %+v, want folding and no drops", st)
	}
	var returned int64
	for _, b := range drain(t, s) {
		if _, ok := log.acked[b.BatchID]; ok {
			t.Errorf("acknowledged batch %s came back", b.BatchID)
		}
		returned += batchCount(b)
	}
	sumOf := func(m map[string]int64) (n int64) {
		for _, c := range m {
			n += c
		}
		return n
	}
	var uncertain int64 // acks a kill interrupted: persisted or not
	for id, c := range log.acking {
		if _, ok := log.acked[id]; !ok {
			uncertain += c
		}
	}
	put, acked := sumOf(log.put), sumOf(log.acked)
	// A kill can also land after a Put returned and before it was
	// reported: one batch of 2 per round.
	unreported := int64(2 * len(killAfter))
	if got := acked + returned; got < put-uncertain || got > put+unreported {
		t.Fatalf("acked %d + pending %d = %d, want %d put (-%d in-flight acks, +%d unreported puts)",
			acked, returned, got, put, uncertain, unreported)
	}
	t.Logf("counts: %d put, %d acked, %d pending; stats %+v", put, acked, returned, st)
}
