package mailbox

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
)

// benchMailbox is an accounts-payable mailbox of n messages: 10% bills
// from catalog vendors (Stripe-hosted receipts and vendors' own
// invoices), the rest newsletters and personal mail, with bodies of a
// few kilobytes as real mail has.
func benchMailbox(n int) [][]byte {
	filler := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"), 40) // ~3 KB
	vendors := []struct{ from, subject string }{
		{"Slack <feedback@slack.com>", "Your Slack invoice for Acme Corp #%d"},
		{"Figma <billing@figma.com>", "Your Figma receipt #%d"},
		{"Linear <notifications@linear.app>", "Your Linear receipt #%d"},
		{"GitHub <noreply@github.com>", "[GitHub] Payment Receipt for acme #%d"},
	}
	msgs := make([][]byte, 0, n)
	for i := range n {
		var m []byte
		switch {
		case i%10 == 0 && i%20 == 0:
			m = stripeReceipt(i)
		case i%10 == 0:
			v := vendors[(i/10)%len(vendors)]
			m = fmt.Appendf(nil, "Date: Tue, 03 Nov 2026 08:00:00 +0000\r\nFrom: %s\r\nTo: ap@example.com\r\nMessage-ID: <bill-%d@vendor.example>\r\nSubject: "+v.subject+"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInvoice number INV-%d\r\nTotal: USD %d.00\r\n", v.from, i, i, i, 10+i%900)
		default:
			m = generated(i)
		}
		msgs = append(msgs, append(m, filler...))
	}
	return msgs
}

// BenchmarkDovecotScan scans a 10,000-message Maildir on a real Dovecot:
// the first scan (a fresh store: everything read, bills classified) and
// a rescan with nothing new. Goal: first scan <= 30 s, rescan <= 1 s.
func BenchmarkDovecotScan(b *testing.B) {
	const n = 10000
	msgs := benchMailbox(n)
	d := startDovecot(b, func(maildir string) { writeMaildir(b, maildir, msgs, func(i int) bool { return i%3 == 0 }) })
	var first, rescan, cold time.Duration
	var imported int64
	for b.Loop() {
		f := newFixture(b)
		opts := f.options(0) // the default chunk size
		opts.NewClassifier = nil
		imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("ap-inbox", d.imapsAddr, "implicit", "plain", testPassword, d.caFile)}}, opts)
		if err != nil {
			b.Fatal(err)
		}
		env := f.env()
		start := time.Now()
		if err := imp.Import(context.Background(), env); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if cold == 0 {
			// The first scan of all also has Dovecot build its index.
			cold = took
		}
		first += took
		s := env.Progress.Snapshot()
		if s.Events != n {
			b.Fatalf("first scan read %d of %d messages", s.Events, n)
		}
		imported += s.Imported
		env2 := f.env()
		start = time.Now()
		if err := imp.Import(context.Background(), env2); err != nil {
			b.Fatal(err)
		}
		rescan += time.Since(start)
		if s := env2.Progress.Snapshot(); s.Events != 0 || s.Imported != 0 {
			b.Fatalf("rescan read %+v", s)
		}
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "first_scan_s")
	b.ReportMetric(cold.Seconds(), "cold_first_scan_s")
	b.ReportMetric(rescan.Seconds()/float64(b.N), "rescan_s")
	b.ReportMetric(float64(imported)/float64(b.N), "evidence_rows")
	b.ReportMetric(0, "ns/op")
}
