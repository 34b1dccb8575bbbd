package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Every write goes through one goroutine that group-commits: it takes the
// requests waiting in s.requests, applies each in its own SAVEPOINT inside
// one transaction, commits once and answers each caller after the commit.
// At a thousand small batches a second, one commit per batch would spend
// most of the time committing; one commit per group does not, and a caller
// still hears "stored" only once its data is committed.

// writeFunc applies one request inside the writer's transaction.
type writeFunc func(w *writeTx) error

// writeRequest is one caller's write waiting for the writer.
type writeRequest struct {
	ctx   context.Context
	apply writeFunc
	// after runs once the request's savepoint is released, still inside
	// the group's transaction: it folds the request's summary delta into
	// the group's, so a request that rolls back contributes nothing.
	after func(w *writeTx)
	done  chan error // buffered: the writer never blocks on a caller that left
}

// write queues apply for the writer and waits until it is committed (nil),
// failed and rolled back (the error), or ctx ends. A request whose ctx ends
// while queued is skipped; one whose ctx ends while it is being applied may
// still be committed, and its caller cannot tell. That is safe for the
// writes that matter under load: a retried batch is a duplicate, a retried
// import skips the keys it stored.
//
// apply and after run on the writer goroutine, perhaps after the caller has
// given up: they may only write variables the caller reads after write
// returned nil.
func (s *Store) write(ctx context.Context, apply writeFunc, after func(w *writeTx)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeRequest{ctx: ctx, apply: apply, after: after, done: make(chan error, 1)}
	select {
	case s.requests <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.writerDone:
		return ErrClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.writerDone:
		// The writer may have answered just before it stopped.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// runWriter is the writer goroutine.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	w := &writeTx{store: s, group: newUsageDelta()}
	group := make([]*writeRequest, 0, maxGroup)
	for {
		select {
		case req := <-s.requests:
			group = append(group[:0], req)
		case <-s.quit:
			// Apply what callers already queued, then stop; anything
			// queued after this drain is answered with ErrClosed by
			// write, which watches writerDone.
			for {
				group = s.drain(group[:0])
				if len(group) == 0 {
					return
				}
				s.commitGroup(w, group)
			}
		}
		group = s.drain(group)
		s.commitGroup(w, group)
	}
}

// drain adds the requests already waiting to group, up to maxGroup.
func (s *Store) drain(group []*writeRequest) []*writeRequest {
	for len(group) < maxGroup {
		select {
		case req := <-s.requests:
			group = append(group, req)
		default:
			return group
		}
	}
	return group
}

// commitGroup applies a group of requests in one transaction and answers
// each of them.
func (s *Store) commitGroup(w *writeTx, group []*writeRequest) {
	errs := make([]error, len(group))
	answer := func() {
		for i, req := range group {
			req.done <- errs[i]
		}
	}
	failAll := func(err error) {
		s.log.Error("store write group failed", "requests", len(group), "err", err)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		answer()
	}

	// The writer's own context, never a caller's: one caller giving up
	// must not abort the others' transaction.
	ctx := context.Background()
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		failAll(fmt.Errorf("begin: %w", err))
		return
	}
	w.begin(tx)
	defer w.end()

	for i, req := range group {
		if err := req.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT request"); err != nil {
			_ = tx.Rollback()
			failAll(fmt.Errorf("savepoint: %w", err))
			return
		}
		if err := req.apply(w); err != nil {
			errs[i] = err
			// Some errors (I/O, disk full) make SQLite roll back the
			// whole transaction; then ROLLBACK TO fails and every
			// request in the group fails with it.
			if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO request"); rbErr != nil {
				_ = tx.Rollback()
				failAll(fmt.Errorf("roll back after %v: %w", err, rbErr))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE request"); err != nil {
			_ = tx.Rollback()
			failAll(fmt.Errorf("release savepoint: %w", err))
			return
		}
		if errs[i] == nil && req.after != nil {
			req.after(w)
		}
	}
	if err := w.flushGroup(); err != nil {
		_ = tx.Rollback()
		failAll(fmt.Errorf("update usage summaries: %w", err))
		return
	}
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("commit: %w", err))
		return
	}
	answer()
}

// writeTx is the writer's view of the current transaction: the statements
// prepared on the writer connection, bound to the transaction on first use,
// and the usage delta of the whole group.
type writeTx struct {
	store *Store
	tx    *sql.Tx
	stmts [numStmts]*sql.Stmt
	group *usageDelta
}

func (w *writeTx) begin(tx *sql.Tx) {
	w.tx = tx
	w.group.reset()
}

func (w *writeTx) end() {
	for i, st := range w.stmts {
		if st != nil {
			_ = st.Close()
			w.stmts[i] = nil
		}
	}
	w.tx = nil
}

// exec runs a prepared statement in the transaction.
func (w *writeTx) exec(id stmtID, args ...any) (sql.Result, error) {
	st := w.stmts[id]
	if st == nil {
		st = w.tx.StmtContext(context.Background(), w.store.prepared[id])
		w.stmts[id] = st
	}
	return st.ExecContext(context.Background(), args...)
}

// execSQL runs an unprepared statement in the transaction, for the rare
// writes (device enrolment, status changes, purge).
func (w *writeTx) execSQL(query string, args ...any) (sql.Result, error) {
	return w.tx.ExecContext(context.Background(), query, args...)
}

// queryRow runs a query in the transaction.
func (w *writeTx) queryRow(query string, args ...any) *sql.Row {
	return w.tx.QueryRowContext(context.Background(), query, args...)
}

// affected returns how many rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// errNoRows reports whether err is sql.ErrNoRows.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
