package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/shadowmap/shadowmap/collector"
)

// evidenceRow is an Evidence ready for SQL: times in microseconds, the
// odd values normalised (see normaliseEvidence).
type evidenceRow struct {
	ev          *collector.Evidence
	first, last int64
	count       int64
	usage       bool
	month       string // YYYY-MM the amount is booked to, when there is one
}

// normaliseEvidence checks the two fields the store cannot do without and
// makes odd values storable, never failing on them:
//   - a row with Count below 1 is stored with Count 1: every row is at
//     least one observation;
//   - a missing FirstSeen or LastSeen takes the other one, and both missing
//     take now; reversed ones are swapped;
//   - times are clamped to the years 1 to 9999.
func normaliseEvidence(e *collector.Evidence, now time.Time) (evidenceRow, error) {
	if e.AppID == "" {
		return evidenceRow{}, errors.New("evidence without an app id")
	}
	if e.DedupeKey == "" {
		return evidenceRow{}, errors.New("evidence without a dedupe key")
	}
	first, last := e.FirstSeen, e.LastSeen
	switch {
	case first.IsZero() && last.IsZero():
		first, last = now, now
	case first.IsZero():
		first = last
	case last.IsZero():
		last = first
	}
	r := evidenceRow{ev: e, first: toMicros(first), last: toMicros(last), count: max(e.Count, 1), usage: e.Source.IsUsage()}
	if r.first > r.last {
		r.first, r.last = r.last, r.first
	}
	if e.AmountCents != 0 {
		r.month = spendMonth(e.Day, r.last)
	}
	return r, nil
}

// spendMonth is the month an amount is booked to: the evidence's day when
// it is a date, else the month it was last seen.
func spendMonth(day string, last int64) string {
	if t, err := time.Parse(time.DateOnly, day); err == nil {
		return t.Format("2006-01")
	}
	return fromMicros(last).Format("2006-01")
}

// args returns the evidence columns in the order of the evidence INSERTs.
func (r *evidenceRow) args() []any {
	e := r.ev
	return []any{e.DedupeKey, e.AppID, string(e.Source), e.Person, e.DeviceID, e.Day,
		r.first, r.last, r.count, e.Domain, e.Tenant, e.Detail, e.AmountCents, e.Currency}
}

// IngestBatch stores an agent batch atomically: the batch record and all
// its evidence, or nothing. A batch already stored for the device returns
// duplicate=true and changes nothing. Rows with the same dedupe key merge:
// counts and amounts add up (saturating), first and last seen widen. The
// device must exist (ErrNotFound otherwise); its LastSeenAt moves up to
// the batch's ReceivedAt (now when zero).
func (s *Store) IngestBatch(ctx context.Context, b collector.Batch) (duplicate bool, err error) {
	if b.DeviceID == "" {
		return false, errors.New("ingest batch: empty device id")
	}
	if b.BatchID == "" {
		return false, errors.New("ingest batch: empty batch id")
	}
	now := s.opts.Now()
	received := b.ReceivedAt
	if received.IsZero() {
		received = now
	}
	// Normalise and summarise on the caller's goroutine, so the writer
	// does only SQL.
	rows := make([]evidenceRow, len(b.Evidence))
	delta := newUsageDelta()
	for i := range b.Evidence {
		r, err := normaliseEvidence(&b.Evidence[i], now)
		if err != nil {
			return false, fmt.Errorf("ingest batch %s: evidence %d: %w", b.BatchID, i, err)
		}
		rows[i] = r
		delta.add(&r)
	}

	unknown, err := normaliseUnknownDomains(b.UnknownDomains)
	if err != nil {
		return false, fmt.Errorf("ingest batch %s: %w", b.BatchID, err)
	}

	// The closures run on the writer goroutine, possibly after this call
	// gave up on ctx: they write only dup, read here only once write has
	// answered.
	var dup bool
	apply := func(w *writeTx) error {
		res, err := w.exec(stInsertBatch, b.DeviceID, b.BatchID, b.AgentVersion, toMicros(received), len(rows))
		if err != nil {
			if isForeignKeyError(err) {
				return fmt.Errorf("device %q: %w", b.DeviceID, collector.ErrNotFound)
			}
			return fmt.Errorf("record batch: %w", err)
		}
		n, err := affected(res)
		if err != nil {
			return err
		}
		if n == 0 {
			dup = true
			return nil
		}
		if _, err := w.exec(stTouchDevice, toMicros(received), b.DeviceID); err != nil {
			return fmt.Errorf("touch device: %w", err)
		}
		for i := range rows {
			if err := w.mergeEvidence(&rows[i]); err != nil {
				return fmt.Errorf("evidence %d: %w", i, err)
			}
		}
		for i, u := range unknown {
			if _, err := w.exec(stAddUnknownDomain, u.Day, u.Domain, b.DeviceID, u.Count); err != nil {
				return fmt.Errorf("unknown domain %d: %w", i, err)
			}
		}
		return nil
	}
	after := func(w *writeTx) {
		if !dup {
			w.group.merge(delta)
		}
	}
	if err := s.write(ctx, apply, after); err != nil {
		return false, fmt.Errorf("ingest batch %s: %w", b.BatchID, err)
	}
	return dup, nil
}

// mergeEvidence adds an agent row to the stored row with its dedupe key,
// or inserts it when there is none.
func (w *writeTx) mergeEvidence(r *evidenceRow) error {
	res, err := w.exec(stMergeEvidenceRow, r.count, r.first, r.last, r.ev.AmountCents, r.ev.DedupeKey)
	if err != nil {
		return err
	}
	n, err := affected(res)
	if err != nil || n > 0 {
		return err
	}
	_, err = w.exec(stMergeEvidence, r.args()...)
	return err
}

// AddEvidence stores importer evidence atomically. A row whose dedupe key
// is already stored, or repeats an earlier row of the same call, is
// skipped and changes nothing. It returns how many rows were new.
func (s *Store) AddEvidence(ctx context.Context, ev []collector.Evidence) (inserted int, err error) {
	now := s.opts.Now()
	rows := make([]evidenceRow, len(ev))
	for i := range ev {
		r, err := normaliseEvidence(&ev[i], now)
		if err != nil {
			return 0, fmt.Errorf("add evidence %d: %w", i, err)
		}
		rows[i] = r
	}
	if len(rows) == 0 {
		return 0, nil
	}
	// As in IngestBatch, the closures write only n and delta.
	var (
		n     int
		delta *usageDelta
	)
	apply := func(w *writeTx) error {
		n = 0
		delta = newUsageDelta()
		for i := range rows {
			res, err := w.exec(stInsertEvidence, rows[i].args()...)
			if err != nil {
				return fmt.Errorf("evidence %d: %w", i, err)
			}
			changed, err := affected(res)
			if err != nil {
				return err
			}
			if changed == 1 {
				n++
				delta.add(&rows[i])
			}
		}
		return nil
	}
	after := func(w *writeTx) { w.group.merge(delta) }
	if err := s.write(ctx, apply, after); err != nil {
		return 0, fmt.Errorf("add evidence: %w", err)
	}
	return n, nil
}

// isForeignKeyError reports whether err is SQLite's foreign key violation.
func isForeignKeyError(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey
}

// isUniqueError reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueError(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// Limits of ListEvidence.
const (
	defaultEvidenceLimit = 1000
	maxEvidenceLimit     = 100_000
)

// ListEvidence returns the evidence matching f, newest day first (then
// latest last seen). Every set field of f must match; Since keeps rows
// last seen at or after it. Limit 0 means 1,000; it is capped at 100,000.
func (s *Store) ListEvidence(ctx context.Context, f collector.EvidenceFilter) ([]collector.Evidence, error) {
	var (
		where []string
		args  []any
	)
	// "x <> ''" lets SQLite use the partial person and device indexes.
	if f.AppID != "" {
		where, args = append(where, "app_id = ?"), append(args, f.AppID)
	}
	if f.Person != "" {
		where, args = append(where, "person = ? AND person <> ''"), append(args, f.Person)
	}
	if f.Device != "" {
		where, args = append(where, "device_id = ? AND device_id <> ''"), append(args, f.Device)
	}
	if f.Source != "" {
		where, args = append(where, "source = ?"), append(args, string(f.Source))
	}
	if !f.Since.IsZero() {
		where, args = append(where, "last_seen >= ?"), append(args, toMicros(f.Since))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultEvidenceLimit
	}
	limit = min(limit, maxEvidenceLimit)

	var q strings.Builder
	q.WriteString(`SELECT dedupe_key, app_id, source, person, device_id, day, first_seen, last_seen,
		count, domain, tenant, detail, amount_cents, currency FROM evidence`)
	if len(where) > 0 {
		q.WriteString(" WHERE ")
		q.WriteString(strings.Join(where, " AND "))
	}
	q.WriteString(" ORDER BY day DESC, last_seen DESC, id DESC LIMIT ?")
	args = append(args, limit)

	rows, err := s.readDB.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	defer rows.Close()
	var out []collector.Evidence
	for rows.Next() {
		var (
			e           collector.Evidence
			source      string
			first, last int64
		)
		if err := rows.Scan(&e.DedupeKey, &e.AppID, &source, &e.Person, &e.DeviceID, &e.Day, &first, &last,
			&e.Count, &e.Domain, &e.Tenant, &e.Detail, &e.AmountCents, &e.Currency); err != nil {
			return nil, fmt.Errorf("list evidence: %w", err)
		}
		e.Source = collector.Source(source)
		e.FirstSeen, e.LastSeen = fromMicros(first), fromMicros(last)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	return out, nil
}

// purgeWindow is how many rows one purge step looks at. Each step is its
// own short write, so ingest goes on between steps however large the
// tables are.
const purgeWindow = 20_000

// PurgeEvidence deletes the evidence last seen before the cut-off and the
// batch records received before it, and returns how many evidence rows it
// deleted.
//
// Summary rows are not recomputed from the evidence that is left: a summary
// row (an app's people, devices, tenants, per-source counts) is deleted
// when its own last_seen is before the cut-off, and a spend row when its
// whole month is. So a person or app still active keeps the first_seen and
// counts of its whole history (the inventory's "first seen" does not jump
// forward when old evidence goes), while one not seen since the cut-off
// disappears with its evidence.
//
// The work is done in windows of 20,000 rows, each committed on its own,
// so a cancelled purge leaves a partly purged store that the next purge
// finishes.
func (s *Store) PurgeEvidence(ctx context.Context, r collector.Retention) (int64, error) {
	var deleted int64
	if !r.Evidence.IsZero() {
		n, err := s.purgeRowid(ctx, "evidence", "last_seen < ?", toMicros(r.Evidence))
		deleted = n
		if err != nil {
			return deleted, fmt.Errorf("purge evidence: %w", err)
		}
	}
	if !r.Batches.IsZero() {
		if _, err := s.purgeRowid(ctx, "batches", "received_at < ?", toMicros(r.Batches)); err != nil {
			return deleted, fmt.Errorf("purge batch records: %w", err)
		}
	}
	if r.Aggregates.IsZero() {
		return deleted, nil
	}
	cut := toMicros(r.Aggregates)
	summaries := []struct {
		table string
		key   []string
		cond  string
		arg   any
	}{
		{"app_sources", []string{"app_id", "source"}, "last_seen < ?", cut},
		{"app_people", []string{"person", "app_id"}, "last_seen < ?", cut},
		{"app_devices", []string{"device_id", "app_id"}, "last_seen < ?", cut},
		{"person_devices", []string{"person", "device_id"}, "last_seen < ?", cut},
		{"app_tenants", []string{"app_id", "tenant"}, "last_seen < ?", cut},
		{"app_spend", []string{"app_id", "month", "currency"}, "month < ?", fromMicros(cut).Format("2006-01")},
		{"unknown_domains", []string{"day", "domain", "device_id"}, "day < ?", fromMicros(cut).Format(time.DateOnly)},
	}
	for _, t := range summaries {
		if err := s.purgeKeyed(ctx, t.table, t.key, t.cond, t.arg); err != nil {
			return deleted, fmt.Errorf("purge %s: %w", t.table, err)
		}
	}
	// Counters of apps nobody uses any more.
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL("DELETE FROM app_counts WHERE people <= 0 AND devices <= 0")
		return err
	}, nil)
	if err != nil {
		return deleted, fmt.Errorf("purge app_counts: %w", err)
	}
	return deleted, nil
}

// purgeRowid deletes the rows of a rowid table matching cond, one rowid
// window at a time. table and cond are constants of this package.
func (s *Store) purgeRowid(ctx context.Context, table, cond string, arg any) (int64, error) {
	var maxID int64
	if err := s.readDB.QueryRowContext(ctx, "SELECT coalesce(max(rowid), 0) FROM "+table).Scan(&maxID); err != nil {
		return 0, err
	}
	var total int64
	del := "DELETE FROM " + table + " WHERE rowid > ? AND rowid <= ? AND " + cond
	for lo := int64(0); lo < maxID; lo += purgeWindow {
		hi := min(lo+purgeWindow, maxID)
		var n int64 // written by the writer, read once it answered
		err := s.write(ctx, func(w *writeTx) error {
			res, err := w.execSQL(del, lo, hi, arg)
			if err != nil {
				return err
			}
			n, err = affected(res)
			return err
		}, nil)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// purgeKeyed deletes the rows of a WITHOUT ROWID table matching cond, one
// primary-key window at a time: each step finds the key purgeWindow rows
// on, then deletes the matching rows up to it.
func (s *Store) purgeKeyed(ctx context.Context, table string, key []string, cond string, arg any) error {
	cols := strings.Join(key, ", ")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(key)), ", ")
	after := "(" + cols + ") > (" + marks + ")"
	upTo := "(" + cols + ") <= (" + marks + ")"
	var lo []any // nil: from the first key
	for {
		// The window's last key, or none when fewer rows are left.
		q := "SELECT " + cols + " FROM " + table
		if lo != nil {
			q += " WHERE " + after
		}
		q += " ORDER BY " + cols + " LIMIT 1 OFFSET ?"
		// Every summary key column is TEXT: scan as strings so they bind
		// back as TEXT (a []byte would bind as a BLOB, which sorts after
		// all text).
		keys := make([]string, len(key))
		ptrs := make([]any, len(key))
		for i := range keys {
			ptrs[i] = &keys[i]
		}
		err := s.readDB.QueryRowContext(ctx, q, append(append([]any{}, lo...), purgeWindow-1)...).Scan(ptrs...)
		last := errNoRows(err)
		if err != nil && !last {
			return err
		}
		hi := make([]any, len(keys))
		for i, k := range keys {
			hi[i] = k
		}

		del := "DELETE FROM " + table + " WHERE " + cond
		args := []any{arg}
		if lo != nil {
			del += " AND " + after
			args = append(args, lo...)
		}
		if !last {
			del += " AND " + upTo
			args = append(args, hi...)
		}
		if err := s.write(ctx, func(w *writeTx) error {
			_, err := w.execSQL(del, args...)
			return err
		}, nil); err != nil {
			return err
		}
		if last {
			return nil
		}
		lo = hi
	}
}

// satAdd adds two int64s, stopping at the limits instead of wrapping.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
