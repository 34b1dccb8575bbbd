package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Backup writes a consistent copy of the database to destPath with
// SQLite's online backup API, while the store keeps serving. destPath must
// not exist: Backup never overwrites a file. The copy is created with mode
// 0600 (its directory, if missing, with 0700); on failure it is removed.
//
// The copy is taken in one step from a read connection: WAL lets writers
// go on meanwhile, and a stepwise backup would restart every time the
// writer commits, which under steady ingest is always.
func (s *Store) Backup(ctx context.Context, destPath string) (err error) {
	if destPath == "" {
		return errors.New("backup: empty destination path")
	}
	dest, err := filepath.Abs(destPath)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", destPath, err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	f, err := os.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err) // os.ErrExist when it is there
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(dest)
			_ = os.Remove(dest + "-journal")
		}
	}()

	destDB := openSQL(dsn(dest, url.Values{
		"_busy_timeout": {strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10)},
	}))
	defer func() {
		if cerr := destDB.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("backup to %s: close: %w", dest, cerr)
		}
	}()
	destConn, err := destDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	defer destConn.Close()
	srcConn, err := s.readDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	defer srcConn.Close()

	err = destConn.Raw(func(destDriver any) error {
		return srcConn.Raw(func(srcDriver any) error {
			d, ok1 := destDriver.(*sqlite3.SQLiteConn)
			src, ok2 := srcDriver.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return errors.New("not a go-sqlite3 connection")
			}
			return copyDatabase(ctx, d, src)
		})
	})
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	return nil
}

// copyDatabase runs the backup from src to dest in one step. Step returns
// not-done without an error when the source is locked by another process;
// then it tries again until ctx ends.
func copyDatabase(ctx context.Context, dest, src *sqlite3.SQLiteConn) error {
	b, err := dest.Backup("main", src, "main")
	if err != nil {
		return fmt.Errorf("start backup: %w", err)
	}
	for {
		if err := ctx.Err(); err != nil {
			_ = b.Finish()
			return err
		}
		done, err := b.Step(-1)
		if err != nil {
			_ = b.Finish()
			return fmt.Errorf("backup step: %w", err)
		}
		if done {
			break
		}
		select { // locked by another process: wait a little
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := b.Finish(); err != nil {
		return fmt.Errorf("finish backup: %w", err)
	}
	return nil
}
