// Package sqlite is the collector's default store: one SQLite file through
// github.com/mattn/go-sqlite3, implementing every store interface in package
// collector (devices, evidence, usage, app states).
//
// Layout of the work:
//
//   - One writer connection (a *sql.DB limited to one connection, BEGIN
//     IMMEDIATE) owned by a single goroutine that group-commits: it takes
//     every write request waiting (up to 64), applies each inside its own
//     SAVEPOINT so a bad request rolls back alone, commits once, then answers
//     the callers. A call returns only after its data is committed.
//   - A separate pool of read-only (query_only) connections; WAL lets them
//     read while the writer writes.
//   - Summary tables (per app: sources, people, devices, tenants, spend)
//     updated in the same transaction as the evidence, so AppUsage reads a
//     few thousand rows instead of scanning evidence.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. A
// committed transaction survives the process being killed (the WAL is in
// the operating system's cache), which is what the collector needs for
// "an acknowledged batch is never lost" across crashes and SIGKILL. It does
// not survive a power cut or kernel panic before the next checkpoint: for
// that set Options.SyncFull (synchronous=FULL, an fsync per commit; with
// group commit that is one fsync per group, not per batch).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/shadowmap/shadowmap/collector"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("sqlite store: closed")

// Options tune a Store. The zero value is a good default.
type Options struct {
	// SyncFull makes every commit durable against power loss
	// (synchronous=FULL) at the cost of an fsync per commit group. The
	// default, synchronous=NORMAL in WAL mode, is durable against process
	// crashes only.
	SyncFull bool
	// BusyTimeout is how long a connection waits for a lock held by
	// another process (a backup tool, the sqlite3 shell). Default 5s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool. Default 4.
	ReadConns int
	// CacheKiB is the page cache of the writer connection in KiB; each
	// reader gets a quarter of it. Default 64 MiB.
	CacheKiB int
	// Now is the clock used for times the caller left zero. Default
	// time.Now.
	Now func() time.Time
	// Logger receives the store's few log lines. Default slog.Default().
	Logger *slog.Logger
}

// maxGroup bounds how many write requests share one transaction: enough to
// amortise a commit, few enough that one group stays short.
const maxGroup = 64

// Store is a collector store on one SQLite file. It is safe for concurrent
// use. Close it to stop the writer and release the file.
type Store struct {
	path    string
	opts    Options
	log     *slog.Logger
	writeDB *sql.DB
	readDB  *sql.DB

	prepared [numStmts]*sql.Stmt

	requests   chan *writeRequest
	quit       chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// Compile-time checks that Store implements the collector's interfaces.
var (
	_ collector.DeviceStore   = (*Store)(nil)
	_ collector.EvidenceStore = (*Store)(nil)
	_ collector.UsageStore    = (*Store)(nil)
	_ collector.AppStateStore = (*Store)(nil)
)

// Open opens (creating if needed) the database at path, applies any
// pending migrations and starts the writer. The parent directory is
// created with mode 0700 and a new database file with mode 0600. A
// database whose schema is newer than this binary is refused with
// ErrSchemaTooNew.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	opts = opts.withDefaults()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}

	s := &Store{
		path:       abs,
		opts:       opts,
		log:        opts.Logger,
		requests:   make(chan *writeRequest, maxGroup),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if err := s.openDBs(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	go s.runWriter()
	return s, nil
}

func (o Options) withDefaults() Options {
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.CacheKiB <= 0 {
		o.CacheKiB = 64 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// createFile makes the database's directory (0700) and file (0600) before
// SQLite opens it, so SQLite never creates either with the process umask.
// SQLite gives the -wal and -shm files the database file's mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// dsn builds a mattn/go-sqlite3 data source name. The path goes in a file:
// URI so that '?', '#' and '%' in it are escaped rather than misread as
// parameters.
func dsn(path string, params url.Values) string {
	p := filepath.ToSlash(path)
	if len(p) == 0 || p[0] != '/' {
		p = "/" + p // a Windows drive path: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: params.Encode()}
	return u.String()
}

func (s *Store) openDBs(ctx context.Context) error {
	busy := strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10)
	syncMode := "NORMAL"
	if s.opts.SyncFull {
		syncMode = "FULL"
	}
	writer := url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {syncMode},
		"_busy_timeout": {busy},
		"_foreign_keys": {"on"},
		"_txlock":       {"immediate"},
		"_cache_size":   {strconv.Itoa(-s.opts.CacheKiB)},
	}
	// A checkpoint every 8,192 pages (32 MiB of WAL) instead of SQLite's
	// 1,000: a page the writer keeps changing (a busy app's summary row)
	// is copied back to the database once per checkpoint, not once per
	// 1,000 frames, and the writer stops for checkpoints eight times less.
	//
	// temp_store=MEMORY keeps the savepoint sub-journal in memory: every
	// page a request changes first has its old content saved there, so
	// ROLLBACK TO can restore it, and on a temporary file that was an
	// extra write for every page of every batch.
	db := openSQL(dsn(s.path, writer), "PRAGMA wal_autocheckpoint = 8192", "PRAGMA temp_store = MEMORY")
	s.writeDB = db
	// One connection, kept for the life of the store: the prepared
	// statements live on it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		return err
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a network filesystem?)", mode)
	}
	if err := migrate(ctx, db, s.opts.Now(), s.log); err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}

	reader := url.Values{
		"_busy_timeout": {busy},
		"_query_only":   {"on"},
		"_txlock":       {"deferred"},
		"_cache_size":   {strconv.Itoa(-s.opts.CacheKiB / 4)},
	}
	rdb := openSQL(dsn(s.path, reader))
	s.readDB = rdb
	rdb.SetMaxOpenConns(s.opts.ReadConns)
	rdb.SetMaxIdleConns(s.opts.ReadConns)
	return rdb.PingContext(ctx)
}

// openSQL returns a pool of connections to dsn that each run pragmas when
// they open: the ones go-sqlite3 has no DSN parameter for. It builds its
// own driver value, so nothing is registered globally.
func openSQL(dsn string, pragmas ...string) *sql.DB {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, p := range pragmas {
			if _, err := c.Exec(p, nil); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	}}
	return sql.OpenDB(connector{driver: drv, dsn: dsn})
}

// connector opens connections with a given driver and DSN.
type connector struct {
	driver *sqlite3.SQLiteDriver
	dsn    string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.driver }

// Close stops the writer (requests already queued are still applied and
// answered), then closes the connections. Calls made after Close return
// ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.writerDone
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range s.prepared {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.readDB != nil {
		errs = append(errs, s.readDB.Close())
	}
	if s.writeDB != nil {
		errs = append(errs, s.writeDB.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// Ping reports whether the store can serve: the writer is running and a
// read connection answers a query. It backs /readyz.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.writerDone:
		return ErrClosed
	default:
	}
	var n int
	if err := s.readDB.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	return nil
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Times are stored as microseconds since the Unix epoch: PostgreSQL's
// precision, and an int64 that holds every year from 1 to 9999, the range
// toMicros clamps to so that no time.Time overflows.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

func toMicros(t time.Time) int64 {
	if t.Before(minTime) {
		t = minTime
	} else if t.After(maxTime) {
		t = maxTime
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}
