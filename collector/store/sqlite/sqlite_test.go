package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/storetest"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		return openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	})
}

var day0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func mustDevice(t *testing.T, s *Store, id string) {
	t.Helper()
	if err := s.CreateDevice(context.Background(), collector.Device{ID: id, OwnerEmail: id + "@example.com"}, []byte("hash:"+id)); err != nil {
		t.Fatalf("create device: %v", err)
	}
}

func testBatch(device, batchID string, rows int) collector.Batch {
	b := collector.Batch{DeviceID: device, BatchID: batchID, ReceivedAt: day0.Add(time.Hour)}
	for i := range rows {
		b.Evidence = append(b.Evidence, collector.Evidence{
			AppID: fmt.Sprintf("app-%d", i), Source: collector.SourceDNS, Person: device + "@example.com",
			DeviceID: device, Day: day0.Format(time.DateOnly), FirstSeen: day0, LastSeen: day0.Add(time.Minute),
			Count: 1, Domain: fmt.Sprintf("app-%d.com", i), DedupeKey: fmt.Sprintf("%s|%s|%d", device, batchID, i),
		})
	}
	return b
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db", "shadowmap.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustDevice(t, s, "dev-1")
	if _, err := s.IngestBatch(ctx, testBatch("dev-1", "b-1", 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		s, err = Open(ctx, path, Options{})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		ev, err := s.ListEvidence(ctx, collector.EvidenceFilter{})
		if err != nil || len(ev) != 3 {
			t.Errorf("after reopen: %d rows (err %v), want 3", len(ev), err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var n, maxVersion int
	if err := db.QueryRow("SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || maxVersion != len(ms) {
		t.Errorf("schema_migrations has %d rows up to %d, want %d", n, maxVersion, len(ms))
	}
}

// rawDB opens the file directly, as an operator's sqlite3 shell would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shadowmap.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(ctx, path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "shadowmap.db")
	s := openTest(t, path)
	mustDevice(t, s, "dev-1")

	backup := filepath.Join(t.TempDir(), "backups", "copy.db")
	if err := s.Backup(context.Background(), backup); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		dir:                  0o700 | fs.ModeDir,
		path:                 0o600,
		path + "-wal":        0o600,
		path + "-shm":        0o600,
		backup:               0o600,
		filepath.Dir(backup): 0o700 | fs.ModeDir,
	}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", p, err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", filepath.Base(p), fi.Mode(), mode)
		}
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	mustDevice(t, s, "dev-1")
	if _, err := s.IngestBatch(ctx, testBatch("dev-1", "b-1", 20)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetStatus(ctx, collector.StatusChange{AppID: "app-1", To: collector.StatusApproved, By: "it"}); err != nil {
		t.Fatal(err)
	}

	// Ingest goes on while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.IngestBatch(ctx, testBatch("dev-1", fmt.Sprintf("during-%d", i), 50)); err != nil {
				t.Errorf("ingest during backup: %v", err)
				return
			}
		}
	})
	dest := filepath.Join(t.TempDir(), "backup.db")
	err := s.Backup(ctx, dest)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}

	if err := s.Backup(ctx, dest); !errors.Is(err, fs.ErrExist) {
		t.Errorf("backup over an existing file: err = %v, want ErrExist", err)
	}

	b := openTest(t, dest)
	ev, err := b.ListEvidence(ctx, collector.EvidenceFilter{AppID: "app-7"})
	if err != nil || len(ev) == 0 {
		t.Errorf("backup evidence of app-7: %d rows, err %v", len(ev), err)
	}
	states, err := b.AppStates(ctx)
	if err != nil || states["app-1"].Status != collector.StatusApproved {
		t.Errorf("backup app states = %+v, err %v", states, err)
	}
	if _, err := b.Device(ctx, "dev-1"); err != nil {
		t.Errorf("backup device: %v", err)
	}
	var check string
	if err := b.readDB.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("backup integrity_check = %q, err %v", check, err)
	}
}

// TestGroupIsolatesFailures sends good and failing requests at the same
// time so they share commit groups: each failing one must roll back alone.
func TestGroupIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	mustDevice(t, s, "dev-1")
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			device := "dev-1"
			if i%3 == 0 {
				device = "unknown" // fails inside the writer, on the foreign key
			}
			_, errs[i] = s.IngestBatch(ctx, testBatch(device, fmt.Sprintf("b-%d", i), 5))
		})
	}
	wg.Wait()
	good := 0
	for i, err := range errs {
		switch {
		case i%3 == 0 && !errors.Is(err, collector.ErrNotFound):
			t.Errorf("batch %d of an unknown device: err = %v, want ErrNotFound", i, err)
		case i%3 != 0 && err != nil:
			t.Errorf("good batch %d: %v", i, err)
		case i%3 != 0:
			good++
		}
	}
	ev, err := s.ListEvidence(ctx, collector.EvidenceFilter{Limit: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != good*5 {
		t.Errorf("%d rows stored, want %d from the %d good batches", len(ev), good*5, good)
	}
	for _, e := range ev {
		if e.DeviceID != "dev-1" {
			t.Fatalf("a failed batch left a row: %+v", e)
		}
	}
}

// TestCancelledCallers cancels callers while their requests wait for or
// are inside the writer: every batch ends up whole or absent, the ones
// acknowledged are there, and the store goes on working.
func TestCancelledCallers(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	mustDevice(t, s, "dev-1")
	const n = 300
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b := testBatch("dev-1", fmt.Sprintf("b-%d", i), 5)
			for j := range b.Evidence {
				b.Evidence[j].AppID = fmt.Sprintf("app-of-%d", i)
			}
			if i%2 == 0 {
				go cancel() // races with the request on purpose
			}
			_, errs[i] = s.IngestBatch(ctx, b)
		})
	}
	wg.Wait()
	ctx := context.Background()
	for i, callErr := range errs {
		if callErr != nil && !errors.Is(callErr, context.Canceled) {
			t.Errorf("batch %d: %v", i, callErr)
		}
		ev, err := s.ListEvidence(ctx, collector.EvidenceFilter{AppID: fmt.Sprintf("app-of-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(ev) != 0 && len(ev) != 5:
			t.Errorf("batch %d stored %d of its 5 rows", i, len(ev))
		case callErr == nil && len(ev) != 5:
			t.Errorf("acknowledged batch %d stored %d rows", i, len(ev))
		}
	}
	if _, err := s.IngestBatch(ctx, testBatch("dev-1", "after", 5)); err != nil {
		t.Errorf("ingest after the cancellations: %v", err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "shadowmap.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := s.CreateDevice(ctx, collector.Device{ID: "d"}, []byte("h")); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: err = %v, want ErrClosed", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("ping after close: no error")
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{"", dir} {
		if s, err := Open(context.Background(), path, Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd?name#with%chars.db")
	s := openTest(t, path)
	mustDevice(t, s, "dev-1")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %s: %v", path, err)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	cases := []time.Time{
		{},
		time.Unix(0, 0).UTC(),
		day0,
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
	}
	for _, tc := range cases {
		if got := fromMicros(toMicros(tc)); !got.Equal(tc) || got.IsZero() != tc.IsZero() {
			t.Errorf("round trip of %v = %v", tc, got)
		}
	}
	clamped := []struct{ in, want time.Time }{
		{time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}},
		{time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), maxTime},
	}
	for _, tc := range clamped {
		if got := fromMicros(toMicros(tc.in)); !got.Equal(tc.want) {
			t.Errorf("clamp of %v = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestQueriesUseIndexes checks that ListEvidence's filters and the purge
// windows are answered from an index, not a scan.
func TestQueriesUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	plans := []struct {
		query string
		args  []any
		want  string
	}{
		{"SELECT dedupe_key FROM evidence WHERE app_id = ? ORDER BY day DESC, last_seen DESC, id DESC LIMIT 10", []any{"x"}, "evidence_by_app"},
		{"SELECT dedupe_key FROM evidence WHERE person = ? AND person <> '' ORDER BY day DESC LIMIT 10", []any{"x"}, "evidence_by_person"},
		{"SELECT dedupe_key FROM evidence WHERE device_id = ? AND device_id <> '' ORDER BY day DESC LIMIT 10", []any{"x"}, "evidence_by_device"},
		{"SELECT person FROM app_people WHERE (person, app_id) > (?, ?) ORDER BY person, app_id LIMIT 1 OFFSET 5", []any{"a", "b"}, "PRIMARY KEY"},
	}
	for _, p := range plans {
		rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+p.query, p.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if joined := strings.Join(plan, "; "); !strings.Contains(joined, p.want) {
			t.Errorf("plan of %q = %s, want %s", p.query, joined, p.want)
		}
	}
}

// TestPurgeWindows purges tables larger than one purge window.
func TestPurgeWindows(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "shadowmap.db"))
	mustDevice(t, s, "dev-1")
	const batches = 120 // 120 * 500 = 60,000 rows: three evidence windows
	for i := range batches {
		b := testBatch("dev-1", fmt.Sprintf("b-%d", i), 500)
		if i%2 == 0 { // half of it old
			b.ReceivedAt = day0.AddDate(0, -6, 0)
			for j := range b.Evidence {
				b.Evidence[j].FirstSeen, b.Evidence[j].LastSeen = b.ReceivedAt, b.ReceivedAt
			}
		}
		for j := range b.Evidence { // distinct people so app_people spans windows too
			b.Evidence[j].Person = fmt.Sprintf("p%d-%d@example.com", i, j)
		}
		if _, err := s.IngestBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeEvidence(ctx, collector.Retention{Evidence: day0.AddDate(0, -1, 0), Aggregates: day0.AddDate(0, -1, 0), Batches: day0.AddDate(0, -1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if n != batches/2*500 {
		t.Errorf("purged %d rows, want %d", n, batches/2*500)
	}
	people, err := s.PeopleUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != batches/2*500 {
		t.Errorf("%d people left, want %d", len(people), batches/2*500)
	}
	usage, err := s.AppUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 500 || usage[0].People != batches/2 {
		t.Errorf("%d apps, first with %d people; want 500 apps with %d people", len(usage), usage[0].People, batches/2)
	}
}

// The SIGKILL test runs the test binary again as a child that ingests
// batches and prints the id of each one acknowledged; the parent kills it
// mid-stream, reopens the file and finds every acknowledged batch.
const killChildEnv = "SHADOWMAP_SQLITE_KILL_CHILD_DB"

func TestKillChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("helper for TestAcknowledgedBatchesSurviveSIGKILL")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	mustDevice(t, s, "dev-1")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				if _, err := s.IngestBatch(ctx, testBatch("dev-1", id, 50)); err != nil {
					fmt.Println("error:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("ack", id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestAcknowledgedBatchesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "shadowmap.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	for lines.Scan() && len(acked) < 500 {
		line := lines.Text()
		if strings.HasPrefix(line, "error:") {
			t.Fatalf("child: %s", line)
		}
		if id, ok := strings.CutPrefix(line, "ack "); ok {
			acked = append(acked, id)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("child acknowledged only %d batches before exiting", len(acked))
	}

	s := openTest(t, path)
	ctx := context.Background()
	for _, id := range acked {
		dup, err := s.IngestBatch(ctx, testBatch("dev-1", id, 0))
		if err != nil {
			t.Fatal(err)
		}
		if !dup {
			t.Errorf("acknowledged batch %s was lost", id)
		}
	}
	ev, err := s.ListEvidence(ctx, collector.EvidenceFilter{Device: "dev-1", Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) < len(acked)*50 {
		t.Errorf("%d evidence rows after the kill, want at least %d", len(ev), len(acked)*50)
	}
}
