package spool

import (
	"fmt"
	"testing"
)

// BenchmarkPutAck measures one batch through the spool: Put, Next, Ack,
// each Put and Ack synced to disk.
func BenchmarkPutAck(b *testing.B) {
	s := openT(b, b.TempDir(), testOptions())
	batch := testBatch("", "2026-11-24", "slack", "notion", "figma", "miro", "zoom")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		batch.BatchID = fmt.Sprintf("b%d", i)
		if err := s.Put(batch); err != nil {
			b.Fatal(err)
		}
		got, ok, err := s.Next()
		if err != nil || !ok {
			b.Fatalf("Next: %v %v", ok, err)
		}
		if err := s.Ack(got.BatchID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecover measures Open over a spool of 1,000 pending batches.
func BenchmarkRecover(b *testing.B) {
	dir := b.TempDir()
	s := openT(b, dir, testOptions())
	for i := range 1000 {
		mustPut(b, s, testBatch(fmt.Sprintf("b%04d", i), "2026-11-24", "slack", "notion", "figma"))
	}
	s.Close()
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(dir, testOptions())
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
