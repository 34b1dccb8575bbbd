package spool

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shadowmap/shadowmap/agent/privdir"
	"github.com/shadowmap/shadowmap/collector/api"
)

// DefaultMaxBytes bounds the spool's files when Options.MaxBytes is zero.
const DefaultMaxBytes = 20 << 20

// minSegmentBytes keeps tiny spools (tests) from rotating on every record.
const minSegmentBytes = 4 << 10

// File name suffixes; the stem is a 16-digit hexadecimal sequence number.
const (
	segSuffix  = ".seg"
	snapSuffix = ".snap"
	tmpSuffix  = ".tmp"
)

// Errors the caller can test with errors.Is.
var (
	// ErrBatchTooLarge: one batch would fill more than half the spool.
	ErrBatchTooLarge = errors.New("spool: batch too large for the spool")
	// ErrUnknownBatch: Ack of an id that is not pending (already
	// acknowledged, or folded into a daily-count batch).
	ErrUnknownBatch = errors.New("spool: no pending batch with that id")
	// ErrNoBatchID: Put of a batch without an id.
	ErrNoBatchID = errors.New("spool: batch has no id")
	// ErrClosed: the spool was closed.
	ErrClosed = errors.New("spool: closed")
)

// Options configure a Spool. The zero value is usable.
type Options struct {
	// MaxBytes bounds the size of the spool's files (default 20 MB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started
	// (default MaxBytes/8, at least 4 KB).
	SegmentBytes int64
	// Now is the clock used to name folded batches and to drop sightings
	// older than the collector accepts (default time.Now).
	Now func() time.Time
}

// Stats describe the spool for the heartbeat and for `status`.
type Stats struct {
	// Batches and Bytes are the pending (unacknowledged) batches and
	// the size of their records.
	Batches int64
	Bytes   int64
	// DiskBytes is the size of all the spool's files; Segments their count.
	DiskBytes int64
	Segments  int
	// FoldedBatches counts batches merged into daily counts to make room.
	FoldedBatches int64
	// DroppedSightings and DroppedCount count the daily aggregates, and
	// the lookups they summed, dropped when folding was not enough or they
	// were older than the collector accepts.
	DroppedSightings int64
	DroppedCount     int64
	// Corrupt counts records skipped because they failed their checksum
	// or could not be decoded (since Open).
	Corrupt int64
	// TornBytes counts the bytes of interrupted writes truncated on Open.
	TornBytes int64
}

// counters survive snapshots in a meta record.
type counters struct {
	FoldedBatches    int64 `json:"folded_batches"`
	DroppedSightings int64 `json:"dropped_sightings"`
	DroppedCount     int64 `json:"dropped_count"`
}

// segment is one file of the log.
type segment struct {
	num     uint64
	snap    bool
	size    int64
	pending int // puts in this segment not yet acknowledged
}

// entry is one batch put in the log.
type entry struct {
	id    string
	seg   *segment
	off   int64
	size  int64
	acked bool
}

// Spool is a crash-safe, bounded FIFO of sightings batches. It is safe for
// concurrent use.
type Spool struct {
	mu   sync.Mutex
	dir  string
	opts Options

	segs    []*segment // oldest first; the last one is appended to
	active  *os.File   // the last segment open for append; nil until needed
	entries []*entry   // log order; acknowledged ones trimmed from the front
	byID    map[string]*entry

	// inFlight is the id Next returned last: never folded, so a batch
	// being uploaded is not sent again inside a folded batch.
	inFlight string
	// stale are files a snapshot superseded that are not yet deleted.
	stale []string
	// brokenTail is set when a failed append could not be truncated
	// away: the next append starts a new segment.
	brokenTail bool

	diskBytes    int64
	pendingBytes int64
	counters     counters
	corrupt      int64
	tornBytes    int64

	buf    []byte
	closed bool
}

// Open opens the spool in dir, creating it (0700) if needed, and recovers
// its state from the files there.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = opts.MaxBytes / 8
	}
	opts.SegmentBytes = max(opts.SegmentBytes, minSegmentBytes)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// The spool names the apps people use: privdir keeps it private on
	// every OS, and refuses a directory someone else made.
	if err := privdir.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, byID: make(map[string]*entry)}
	if err := s.recover(); err != nil {
		s.closeActive()
		return nil, err
	}
	return s, nil
}

// fileName is the name of segment num.
func fileName(num uint64, snap bool) string {
	suffix := segSuffix
	if snap {
		suffix = snapSuffix
	}
	return fmt.Sprintf("%016x%s", num, suffix)
}

// parseFileName reverses fileName.
func parseFileName(name string) (num uint64, snap, ok bool) {
	stem, found := strings.CutSuffix(name, segSuffix)
	if !found {
		stem, found = strings.CutSuffix(name, snapSuffix)
		snap = true
	}
	if !found || len(stem) != 16 {
		return 0, false, false
	}
	num, err := strconv.ParseUint(stem, 16, 64)
	return num, snap, err == nil
}

func (s *Spool) path(seg *segment) string {
	return filepath.Join(s.dir, fileName(seg.num, seg.snap))
}

// recover rebuilds the queue from the files in the directory.
func (s *Spool) recover() error {
	dirEntries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", s.dir, err)
	}
	var segs []*segment
	for _, de := range dirEntries {
		name := de.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			// A snapshot interrupted before its rename: the files it
			// would have replaced are still in force.
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("spool: remove %s: %w", name, err)
			}
			continue
		}
		if num, snap, ok := parseFileName(name); ok && de.Type().IsRegular() {
			segs = append(segs, &segment{num: num, snap: snap})
		}
	}
	slices.SortFunc(segs, func(a, b *segment) int {
		if a.num != b.num {
			return compareUint(a.num, b.num)
		}
		// A snapshot and a segment with one number cannot both be
		// written by us; prefer the snapshot.
		if a.snap == b.snap {
			return 0
		}
		if a.snap {
			return 1
		}
		return -1
	})
	// The newest snapshot supersedes every older file.
	if i := lastSnapshot(segs); i > 0 {
		for _, old := range segs[:i] {
			if err := os.Remove(s.path(old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("spool: remove superseded %s: %w", s.path(old), err)
			}
		}
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		segs = segs[i:]
	}
	s.segs = segs
	for i, seg := range segs {
		if err := s.replay(seg, i == len(segs)-1); err != nil {
			return err
		}
	}
	s.trim()
	return s.reclaim()
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lastSnapshot is the index of the newest snapshot in segs, or -1.
func lastSnapshot(segs []*segment) int {
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].snap {
			return i
		}
	}
	return -1
}

// replay applies the records of one file. In the last file a record that
// is cut short or fails its checksum at the very end is an interrupted
// write and is truncated away; anything else bad is skipped and counted.
func (s *Spool) replay(seg *segment, last bool) error {
	path := s.path(seg)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", path, err)
	}
	off := 0
	for off < len(data) {
		body, n, err := parseRecord(data[off:])
		if err == nil {
			s.apply(seg, body, int64(off), int64(n))
			off += n
			continue
		}
		tail := errors.Is(err, errTorn) || n == 0 || off+n == len(data)
		if !tail {
			s.corrupt++
			off += n
			continue
		}
		if !last {
			// Segments rotate only after a synced append, so this is
			// damage, not a crash; nothing after it can be trusted.
			s.corrupt++
			break
		}
		return s.truncateTail(seg, int64(off), int64(len(data)-off))
	}
	seg.size = int64(len(data))
	s.diskBytes += seg.size
	return nil
}

// truncateTail cuts an interrupted write off the last file.
func (s *Spool) truncateTail(seg *segment, off, torn int64) error {
	path := s.path(seg)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", path, err)
	}
	if err := f.Truncate(off); err != nil {
		f.Close()
		return fmt.Errorf("spool: truncate torn record in %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool: sync %s: %w", path, err)
	}
	s.active = f
	s.tornBytes += torn
	seg.size = off
	s.diskBytes += off
	return nil
}

// apply replays one record that passed its checksum.
func (s *Spool) apply(seg *segment, body []byte, off, size int64) {
	switch body[0] {
	case kindPut:
		var head struct {
			BatchID string `json:"batch_id"`
		}
		if err := json.Unmarshal(body[1:], &head); err != nil || head.BatchID == "" {
			s.corrupt++
			return
		}
		if _, dup := s.byID[head.BatchID]; dup {
			return
		}
		s.addEntry(&entry{id: head.BatchID, seg: seg, off: off, size: size})
	case kindAck:
		if e, ok := s.byID[string(body[1:])]; ok {
			s.markAcked(e)
		}
	case kindMeta:
		var c counters
		if err := json.Unmarshal(body[1:], &c); err != nil {
			s.corrupt++
			return
		}
		s.counters = c
	default:
		s.corrupt++
	}
}

func (s *Spool) addEntry(e *entry) {
	s.entries = append(s.entries, e)
	s.byID[e.id] = e
	e.seg.pending++
	s.pendingBytes += e.size
}

func (s *Spool) markAcked(e *entry) {
	e.acked = true
	delete(s.byID, e.id)
	e.seg.pending--
	s.pendingBytes -= e.size
	if s.inFlight == e.id {
		s.inFlight = ""
	}
}

// trim drops acknowledged entries from the front of the queue.
func (s *Spool) trim() {
	i := 0
	for i < len(s.entries) && s.entries[i].acked {
		s.entries[i] = nil
		i++
	}
	if i > 0 {
		s.entries = s.entries[i:]
	}
}

// reclaim deletes the oldest segments while every batch in them is
// acknowledged. Deleting only from the front keeps every ack record alive
// as long as the put it refers to. The directory is synced after each
// deletion so a crash cannot bring back an older file without the newer
// one holding its acks.
func (s *Spool) reclaim() error {
	if err := s.removeStale(); err != nil {
		return err
	}
	for len(s.segs) > 1 && s.segs[0].pending == 0 {
		seg := s.segs[0]
		if err := os.Remove(s.path(seg)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool: remove acknowledged %s: %w", s.path(seg), err)
		}
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.diskBytes -= seg.size
		s.segs[0] = nil
		s.segs = s.segs[1:]
	}
	return nil
}

func (s *Spool) closeActive() {
	if s.active != nil {
		s.active.Close()
		s.active = nil
	}
}

// ensureActive opens a new segment when there is none, the current one is
// full, or its tail could not be repaired after a failed write.
func (s *Spool) ensureActive() error {
	if s.active != nil && !s.brokenTail && s.segs[len(s.segs)-1].size < s.opts.SegmentBytes {
		return nil
	}
	if s.active == nil && len(s.segs) > 0 && !s.brokenTail {
		last := s.segs[len(s.segs)-1]
		if last.size < s.opts.SegmentBytes {
			f, err := os.OpenFile(s.path(last), os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return fmt.Errorf("spool: open %s: %w", s.path(last), err)
			}
			s.active = f
			return nil
		}
	}
	seg := &segment{num: s.nextNum()}
	f, err := os.OpenFile(s.path(seg), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	// Each segment starts with the counters, so they outlive the
	// segments reclaimed before it.
	meta, err := json.Marshal(s.counters)
	if err == nil {
		s.buf = appendRecord(s.buf[:0], append([]byte{kindMeta}, meta...))
		_, err = f.Write(s.buf)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(s.path(seg))
		return fmt.Errorf("spool: start segment %s: %w", s.path(seg), err)
	}
	seg.size = int64(len(s.buf))
	s.diskBytes += seg.size
	s.closeActive()
	s.active = f
	s.brokenTail = false
	s.segs = append(s.segs, seg)
	return s.reclaim()
}

func (s *Spool) nextNum() uint64 {
	if len(s.segs) == 0 {
		return 1
	}
	return s.segs[len(s.segs)-1].num + 1
}

// append writes one record to the active segment and syncs it. On failure
// (a full disk) the partial record is truncated away and the error
// returned; the spool stays usable.
func (s *Spool) append(body []byte) (*segment, int64, error) {
	if err := s.ensureActive(); err != nil {
		return nil, 0, err
	}
	seg := s.segs[len(s.segs)-1]
	s.buf = appendRecord(s.buf[:0], body)
	if _, err := s.active.Write(s.buf); err != nil {
		s.undoAppend(seg)
		return nil, 0, fmt.Errorf("spool: write %s: %w", s.path(seg), err)
	}
	if err := s.active.Sync(); err != nil {
		s.undoAppend(seg)
		return nil, 0, fmt.Errorf("spool: sync %s: %w", s.path(seg), err)
	}
	off := seg.size
	n := int64(len(s.buf))
	seg.size += n
	s.diskBytes += n
	return seg, off, nil
}

func (s *Spool) undoAppend(seg *segment) {
	if err := s.active.Truncate(seg.size); err != nil {
		s.brokenTail = true
	}
}

// Put appends b and syncs it to disk before returning. A batch whose id
// is already pending is not stored twice.
func (s *Spool) Put(b api.SightingsBatch) error {
	if b.BatchID == "" {
		return ErrNoBatchID
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("spool: encode batch %s: %w", b.BatchID, err)
	}
	body := make([]byte, 0, 1+len(payload))
	body = append(append(body, kindPut), payload...)
	size := int64(headerSize + len(body))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.byID[b.BatchID]; ok {
		return nil
	}
	if len(body) > maxBodySize || size > s.opts.MaxBytes/2 {
		return fmt.Errorf("%w: batch %s is %d bytes", ErrBatchTooLarge, b.BatchID, size)
	}
	if err := s.makeRoom(size); err != nil {
		return fmt.Errorf("spool: make room for batch %s: %w", b.BatchID, err)
	}
	seg, off, err := s.append(body)
	if err != nil {
		return fmt.Errorf("spool: put batch %s: %w", b.BatchID, err)
	}
	s.addEntry(&entry{id: b.BatchID, seg: seg, off: off, size: size})
	return nil
}

// Next returns the oldest batch not yet acknowledged, and false when the
// spool is empty. A record that has gone bad on disk since it was written
// is counted, acknowledged and skipped.
func (s *Spool) Next() (api.SightingsBatch, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return api.SightingsBatch{}, false, ErrClosed
	}
	for {
		s.trim()
		if len(s.entries) == 0 {
			return api.SightingsBatch{}, false, nil
		}
		e := s.entries[0]
		b, err := s.readBatch(e)
		if err == nil {
			s.inFlight = e.id
			return b, true, nil
		}
		if !errors.Is(err, errBadRecord) {
			return api.SightingsBatch{}, false, err
		}
		s.corrupt++
		if err := s.ack(e); err != nil {
			return api.SightingsBatch{}, false, err
		}
	}
}

// readBatch reads and decodes the batch of e from its segment.
func (s *Spool) readBatch(e *entry) (api.SightingsBatch, error) {
	body, err := s.readBody(e)
	if err != nil {
		return api.SightingsBatch{}, err
	}
	var b api.SightingsBatch
	if err := json.Unmarshal(body[1:], &b); err != nil || b.BatchID != e.id {
		return api.SightingsBatch{}, fmt.Errorf("spool: batch %s: %w", e.id, errBadRecord)
	}
	return b, nil
}

// readBody reads the record body of e, checking its checksum and kind.
func (s *Spool) readBody(e *entry) ([]byte, error) {
	path := s.path(e.seg)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	defer f.Close()
	body, err := readRecordAt(f, e.off, e.size)
	if err != nil {
		return nil, fmt.Errorf("spool: read batch %s from %s: %w", e.id, path, errBadRecord)
	}
	if body[0] != kindPut {
		return nil, fmt.Errorf("spool: batch %s in %s: %w", e.id, path, errBadRecord)
	}
	return body, nil
}

// Ack marks batchID sent. Once Ack returns, the batch is never returned
// again, even after a crash.
func (s *Spool) Ack(batchID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	e, ok := s.byID[batchID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownBatch, batchID)
	}
	return s.ack(e)
}

func (s *Spool) ack(e *entry) error {
	body := make([]byte, 0, 1+len(e.id))
	body = append(append(body, kindAck), e.id...)
	if _, _, err := s.append(body); err != nil {
		return fmt.Errorf("spool: ack batch %s: %w", e.id, err)
	}
	s.markAcked(e)
	s.trim()
	return s.reclaim()
}

// Stats reports the spool's depth and what it had to fold, drop or skip.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Batches:          int64(len(s.byID)),
		Bytes:            s.pendingBytes,
		DiskBytes:        s.diskBytes,
		Segments:         len(s.segs),
		FoldedBatches:    s.counters.FoldedBatches,
		DroppedSightings: s.counters.DroppedSightings,
		DroppedCount:     s.counters.DroppedCount,
		Corrupt:          s.corrupt,
		TornBytes:        s.tornBytes,
	}
}

// Close releases the spool's files. Everything Put and Ack returned for is
// already on disk.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.active == nil {
		return nil
	}
	err := s.active.Close()
	s.active = nil
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// newFoldID names a folded batch: unique, and valid for the collector.
func (s *Spool) newFoldID() (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("spool: batch id: %w", err)
	}
	return "fold-" + s.opts.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:]), nil
}
