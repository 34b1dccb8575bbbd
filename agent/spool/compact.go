package spool

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
)

// makeRoom keeps the files under MaxBytes before an append of need bytes:
// reclaim acknowledged segments, else rewrite the pending batches into a
// snapshot, folding and dropping the oldest detail until they fit in half
// the budget (so the next rewrite is far off).
func (s *Spool) makeRoom(need int64) error {
	if s.diskBytes+need <= s.opts.MaxBytes {
		return nil
	}
	if err := s.reclaim(); err != nil {
		return err
	}
	if s.diskBytes+need <= s.opts.MaxBytes {
		return nil
	}
	target := s.opts.MaxBytes/2 - need
	s.trim()
	pending := make([]*entry, 0, len(s.byID))
	for _, e := range s.entries {
		if !e.acked {
			pending = append(pending, e)
		}
	}
	if s.pendingBytes <= target {
		return s.snapshot(nil, pending, s.counters)
	}
	return s.foldAndSnapshot(pending, target)
}

// foldAndSnapshot folds the oldest pending batches (never the one in
// flight) into daily counts until the pending bytes fit target, dropping
// the oldest days if folding everything is not enough.
func (s *Spool) foldAndSnapshot(pending []*entry, target int64) error {
	candidates := make([]*entry, 0, len(pending))
	for _, e := range pending {
		if e.id != s.inFlight {
			candidates = append(candidates, e)
		}
	}
	// First try folding just enough of the oldest batches to cover the
	// excess; if the folded result is still too big, fold them all.
	excess := s.pendingBytes - target
	var covered int64
	n := 0
	for n < len(candidates) && covered < excess {
		covered += candidates[n].size
		n++
	}
	c := s.counters
	plan, err := s.planFold(pending, candidates[:n], &c)
	if err != nil {
		return err
	}
	if plan.bytes > target && n < len(candidates) {
		c = s.counters
		if plan, err = s.planFold(pending, candidates, &c); err != nil {
			return err
		}
	}
	for plan.bytes > target && len(plan.sightings) > 0 {
		var dropped, droppedCount int64
		plan.sightings, dropped, droppedCount = dropOldestDay(plan.sightings)
		c.DroppedSightings += dropped
		c.DroppedCount += droppedCount
		if err := s.sizePlan(&plan); err != nil {
			return err
		}
	}
	return s.snapshot(plan.folded, plan.keep, c)
}

// foldPlan is a candidate snapshot: folded batches first, then the kept
// pending batches in their order.
type foldPlan struct {
	sightings    []api.Sighting
	agentVersion string
	folded       []api.SightingsBatch
	keep         []*entry
	keepBytes    int64
	bytes        int64
}

// planFold folds the batches of toFold and keeps the rest of pending.
func (s *Spool) planFold(pending, toFold []*entry, c *counters) (foldPlan, error) {
	var plan foldPlan
	f := newFolder()
	for _, e := range toFold {
		b, err := s.readBatch(e)
		if errors.Is(err, errBadRecord) {
			s.corrupt++
			continue
		}
		if err != nil {
			return foldPlan{}, err
		}
		f.add(b)
		c.FoldedBatches++
		plan.agentVersion = b.AgentVersion
	}
	plan.sightings = f.sightings()
	// Days the collector would refuse are dropped now, not uploaded.
	oldest := s.opts.Now().Add(-api.MaxSightingAge).UTC().Format(time.DateOnly)
	for len(plan.sightings) > 0 && plan.sightings[0].Day < oldest {
		var dropped, droppedCount int64
		plan.sightings, dropped, droppedCount = dropOldestDay(plan.sightings)
		c.DroppedSightings += dropped
		c.DroppedCount += droppedCount
	}
	// Keep the unfolded batches in log order.
	folded := make(map[*entry]bool, len(toFold))
	for _, e := range toFold {
		folded[e] = true
	}
	for _, e := range pending {
		if !folded[e] {
			plan.keep = append(plan.keep, e)
			plan.keepBytes += e.size
		}
	}
	return plan, s.sizePlan(&plan)
}

// sizePlan builds the folded batches of plan and its size on disk.
func (s *Spool) sizePlan(plan *foldPlan) error {
	folded, err := chunkSightings(plan.sightings, plan.agentVersion, s.newFoldID)
	if err != nil {
		return err
	}
	plan.folded = folded
	plan.bytes = plan.keepBytes
	for _, b := range folded {
		payload, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("spool: encode folded batch: %w", err)
		}
		plan.bytes += int64(headerSize + 1 + len(payload))
	}
	return nil
}

// snapshot rewrites the spool as one file: a meta record with c, the
// folded batches, then the kept batches. It is written under a temporary
// name, synced and renamed, so on a crash either the old files or the
// snapshot are in force; the old files are deleted only after the rename
// is durable.
func (s *Spool) snapshot(folded []api.SightingsBatch, keep []*entry, c counters) error {
	seg := &segment{num: s.nextNum(), snap: true}
	final := s.path(seg)
	tmp := final + tmpSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: remove %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create snapshot: %w", err)
	}
	entries, err := s.writeSnapshot(f, seg, folded, keep, c)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: write snapshot %s: %w", final, err)
	}

	// The snapshot is in force: drop the old files and state. A file
	// that will not go away now is retried before the snapshot itself may
	// be reclaimed (see removeStale).
	s.closeActive()
	for _, old := range s.segs {
		s.stale = append(s.stale, s.path(old))
	}
	s.segs = []*segment{seg}
	s.entries = nil
	s.byID = make(map[string]*entry, len(entries))
	s.pendingBytes = 0
	s.diskBytes = seg.size
	s.counters = c
	s.brokenTail = false
	for _, e := range entries {
		s.addEntry(e)
	}
	// The snapshot is written and in force, and Open removes what is
	// left: a failure here is retried by reclaim, not a failed Put.
	_ = s.removeStale()
	return nil
}

// removeStale deletes files a snapshot superseded. Until they are gone no
// snapshot may be reclaimed: without it, Open would bring them back.
func (s *Spool) removeStale() error {
	if len(s.stale) == 0 {
		return nil
	}
	for _, path := range s.stale {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool: remove superseded %s: %w", path, err)
		}
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.stale = nil
	return nil
}

// writeSnapshot writes the snapshot records to f and returns the entries
// they hold. Kept batches that no longer read back are counted and left out.
func (s *Spool) writeSnapshot(f *os.File, seg *segment, folded []api.SightingsBatch, keep []*entry, c counters) ([]*entry, error) {
	w := bufio.NewWriterSize(f, 64<<10)
	var entries []*entry
	var buf []byte
	write := func(body []byte) (int64, int64, error) {
		buf = appendRecord(buf[:0], body)
		if _, err := w.Write(buf); err != nil {
			return 0, 0, err
		}
		off := seg.size
		seg.size += int64(len(buf))
		return off, int64(len(buf)), nil
	}
	meta, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode counters: %w", err)
	}
	if _, _, err := write(append([]byte{kindMeta}, meta...)); err != nil {
		return nil, err
	}
	for _, b := range folded {
		payload, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode folded batch: %w", err)
		}
		off, size, err := write(append([]byte{kindPut}, payload...))
		if err != nil {
			return nil, err
		}
		entries = append(entries, &entry{id: b.BatchID, seg: seg, off: off, size: size})
	}
	for _, e := range keep {
		body, err := s.readBody(e)
		if errors.Is(err, errBadRecord) {
			s.corrupt++
			continue
		}
		if err != nil {
			return nil, err
		}
		off, size, err := write(body)
		if err != nil {
			return nil, err
		}
		entries = append(entries, &entry{id: e.id, seg: seg, off: off, size: size})
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return entries, nil
}
