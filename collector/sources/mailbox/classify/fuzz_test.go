package classify

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

var validKinds = map[Kind]bool{
	KindInvoice: true, KindReceipt: true, KindRenewal: true, KindSignup: true, KindTrialEnding: true,
	KindOAuthGrant: true, KindSecurity: true, KindMarketing: true, KindNotSaaS: true, KindUnknown: true,
}

// FuzzClassify feeds raw bytes to the classifier: whatever comes in, it
// returns a valid kind, a message id, valid UTF-8, and no evidence from a
// skipped message. Seeds are in testdata/fuzz/FuzzClassify: corpus
// messages and MIME horrors.
func FuzzClassify(f *testing.F) {
	c := testCatalog(f)
	f.Add([]byte("From: a@b\r\n\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"))
	f.Add([]byte("Subject: =?utf-7?b?KwBBAEMAUQAtAA==?=\r\nContent-Transfer-Encoding: base64\r\n\r\n====\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := Classify(c, bytes.NewReader(raw), Options{MaxBytes: 1 << 20})
		if !validKinds[r.Kind] {
			t.Fatalf("invalid kind %q", r.Kind)
		}
		if r.MessageID == "" {
			t.Fatal("no message id")
		}
		for _, s := range []string{r.AppID, r.Vendor, r.InvoiceNumber, r.Plan, r.From, r.To, r.Subject} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in %+v", r)
			}
		}
		if r.AmountCents < 0 || r.Seats < 0 {
			t.Fatalf("negative amount or seats: %+v", r)
		}
		if _, ok := r.Evidence("ap@acme.example"); ok && (r.Skipped != "" || r.AppID == "") {
			t.Fatalf("evidence from a skipped or unmatched message: %+v", r)
		}
	})
}

// BenchmarkClassify classifies every message of the corpus once per
// iteration.
func BenchmarkClassify(b *testing.B) {
	c := testCatalog(b)
	files, _ := filepath.Glob(filepath.Join("testdata", "messages", "*.eml"))
	var msgs [][]byte
	size := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		size += len(raw)
	}
	if len(msgs) == 0 {
		b.Skip("no corpus")
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range msgs {
			Classify(c, bytes.NewReader(raw), Options{})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}
