// Package spool is the agent's crash-safe, bounded queue of sightings
// batches waiting to be uploaded.
//
// # Why an fsync'd log and not SQLite
//
// The agent is pure Go (CGO_ENABLED=0) and small. mattn/go-sqlite3 needs
// cgo, and modernc.org/sqlite adds several megabytes to the binary and a
// general-purpose engine for what is a FIFO of a few thousand records. The
// spool's access pattern is append at the tail, read at the head, forget
// the head: an append-only log with a checksum per record does exactly that,
// its crash behaviour is easy to reason about and to test (a torn write can
// only be the last record of the last file), and it cross-builds for every
// target with the standard library alone.
//
// # Layout
//
// The spool directory (0700) holds segment files (0600) named by a
// hexadecimal sequence number: NNNNNNNNNNNNNNNN.seg for ordinary segments and
// NNNNNNNNNNNNNNNN.snap for snapshots. Each file is a sequence of records:
//
//	uint32 little-endian  body length
//	uint32 little-endian  CRC-32C (Castagnoli) of the body
//	body                  one kind byte, then the payload
//
// Kinds are put (payload: the batch as JSON, the same encoding the upload
// uses, so a spooled batch can be read with any JSON tool), ack (payload:
// the batch id) and meta (payload: counters carried across snapshots). Every
// append is followed by fsync before Put or Ack returns.
//
// Segments rotate at Options.SegmentBytes. A segment is deleted once every
// batch put in it is acknowledged and every older segment is gone, so ack
// records never outlive the puts they refer to.
//
// # Bounding
//
// When an append would take the files past Options.MaxBytes, the spool
// first deletes fully acknowledged segments, then rewrites the pending
// batches into a snapshot: written to a temporary file, fsynced, renamed to
// a .snap name, the directory fsynced, and only then the older files
// deleted. On Open the newest snapshot supersedes every file numbered below
// it, so a crash at any point leaves either the old files or the snapshot in
// force, never both. If the pending batches alone are too big, the oldest
// are folded into daily counts (their sightings merged by app, domain,
// tenant, user, source and day: counts summed, first and last seen widened)
// under a new batch id; if that is still too big, the oldest days are
// dropped and counted. The batch most recently returned by Next is never
// folded, so an upload in flight cannot be sent twice under two ids.
//
// # Recovery
//
// Open scans the files in order. A record cut short or failing its
// checksum at the end of the last file is the write a crash interrupted: it
// is truncated away (Stats.TornBytes). A record failing its checksum
// anywhere else is skipped and counted (Stats.Corrupt). A length field that
// cannot be true ends the scan of its file: in an older file the rest is
// skipped and counted, in the last file it is treated as a torn write and
// truncated, since records cannot be found again without a trustworthy
// length. Records that go bad after Open are counted and skipped by Next.
//
// Delivery is at least once: a batch acknowledged is never returned again
// after a restart, a batch put and not acknowledged always is, under the id
// the caller gave it, and the collector's batch-id idempotency turns that
// into exactly once.
package spool
