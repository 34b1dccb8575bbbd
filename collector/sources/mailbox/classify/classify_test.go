package classify

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// msg builds a small message with CRLF line ends from header lines and
// a body.
func msg(headers []string, body string) string {
	return strings.ReplaceAll(strings.Join(headers, "\n")+"\n\n"+body, "\n", "\r\n")
}

func classifyString(t testing.TB, raw string, opts Options) Result {
	t.Helper()
	return Classify(testCatalog(t), strings.NewReader(raw), opts)
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC) }

func TestClassifyVendorsAndForgery(t *testing.T) {
	invoice := "Invoice number: SBIE-1\nTotal charged: $1,225.00\n"
	tests := []struct {
		name, from, subject, body string
		kind                      Kind
		app                       string
		skipped                   bool
	}{
		{"vendor's own domain", "Slack <feedback@slack.com>", "Your Slack invoice", invoice, KindInvoice, "slack", false},
		{"forged display name", "Slack <billing@slack-payments.example>", "Your Slack invoice", invoice, KindUnknown, "", true},
		{"stripe legal name on stripe.com", "Railway Corporation <invoice+statements@stripe.com>", "Your receipt from Railway Corporation #1377-9062", "Amount paid $20.00", KindReceipt, "railway", false},
		{"paddle names the vendor in the body", "Paddle <help@paddle.com>", "Your receipt", "You bought Tally Pro from Tally BV.\nTotal paid: $29.00", KindReceipt, "tally", false},
		{"hotel is not saas", "Hotel <folio@grand-hotel.example>", "Your folio", "Balance paid: EUR 595.35", KindNotSaaS, "", false},
		{"newsletter with a price is marketing", "Figma <events@figma.com>", "Config tickets are live", "Tickets: $599", KindMarketing, "figma", false},
		{"welcome", "Linear <hello@linear.app>", "Welcome to Linear", "Get started", KindSignup, "linear", false},
		{"trial ending", "Miro <hello@miro.com>", "Your Miro Business trial ends in 3 days", "Upgrade now", KindTrialEnding, "miro", false},
		{"renewal", "1Password <billing@1password.com>", "Your 1Password Business subscription will renew soon", "Your plan will renew on Dec 1, 2026 for $1,428.00 CAD.", KindRenewal, "1password", false},
		{"oauth grant", "Google <no-reply@accounts.google.com>", "ChatGPT was granted access to your Google Account", "ChatGPT now has access to your Google Account dana@acme.example", KindOAuthGrant, "chatgpt", false},
		{"security", "GitHub <noreply@github.com>", "[GitHub] A new SSH authentication public key was added to your account", "key", KindSecurity, "github", false},
		{"nothing known", "Friend <friend@example.org>", "lunch?", "see you at noon", KindUnknown, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := []string{"From: " + tt.from, "To: dana@acme.example", "Subject: " + tt.subject, "Date: Mon, 02 Nov 2026 10:00:00 +0000", "Message-ID: <x@example>"}
			if tt.kind == KindMarketing {
				headers = append(headers, "List-Unsubscribe: <https://example.org/u>")
			}
			r := classifyString(t, msg(headers, tt.body), Options{})
			if r.Kind != tt.kind || r.AppID != tt.app || (r.Skipped != "") != tt.skipped {
				t.Errorf("got kind %s app %q skipped %q (by %s, processor %s); want kind %s app %q skipped %v",
					r.Kind, r.AppID, r.Skipped, r.By, r.Processor, tt.kind, tt.app, tt.skipped)
			}
		})
	}
}

func TestClassifyLimits(t *testing.T) {
	headers := []string{"From: Vercel <invoice+statements@vercel.com>", "To: a@acme.example", "Subject: Your receipt from Vercel Inc. #1"}

	big := msg(headers, strings.Repeat("Total $20.00\n", 2000))
	if r := classifyString(t, big, Options{MaxBytes: 4096}); !strings.Contains(r.Skipped, "larger than 4096 bytes") {
		t.Errorf("oversized message: skipped %q", r.Skipped)
	}
	if r := classifyString(t, big, Options{}); r.Skipped != "" || r.Kind != KindReceipt {
		t.Errorf("under the default cap: kind %s skipped %q", r.Kind, r.Skipped)
	}

	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < maxParts+5; i++ {
		b.WriteString("--b\nContent-Type: text/plain\n\npart\n")
	}
	b.WriteString("--b--\n")
	if r := classifyString(t, strings.Join(headers, "\n")+"\n"+b.String(), Options{}); !strings.Contains(r.Skipped, "MIME parts") {
		t.Errorf("too many parts: skipped %q", r.Skipped)
	}

	nested := "Total $20.00\n"
	for i := 0; i < maxDepth+5; i++ {
		bd := fmt.Sprintf("n%d", i)
		nested = "Content-Type: multipart/mixed; boundary=" + bd + "\n\n--" + bd + "\n" + nested + "\n--" + bd + "--\n"
	}
	if r := classifyString(t, strings.Join(headers, "\n")+"\n"+nested, Options{}); !strings.Contains(r.Skipped, "nesting") {
		t.Errorf("deep nesting: skipped %q", r.Skipped)
	}

	for name, raw := range map[string]string{
		"empty":              "",
		"not a header":       "hello world\n\nTotal $20.00",
		"binary":             "\x00\x01\x02\xff\xfe",
		"missing boundary":   msg(append(headers, "Content-Type: multipart/mixed"), "--x\n\nTotal $20.00\n--x--"),
		"boundary not found": msg(append(headers, "Content-Type: multipart/mixed; boundary=zz"), "--x\n\nTotal $20.00\n--x--"),
		"utf-7 body":         msg(append(headers, "Content-Type: text/plain; charset=utf-7"), "Total +ACQ-20.00"),
	} {
		if r := classifyString(t, raw, Options{}); r.Skipped == "" {
			t.Errorf("%s: not skipped: %+v", name, r)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestClassifyReadError(t *testing.T) {
	r := Classify(testCatalog(t), failingReader{}, Options{})
	if !strings.Contains(r.Skipped, "connection reset") || r.MessageID == "" {
		t.Errorf("read error: %+v", r)
	}
}

func TestClassifyPartialRead(t *testing.T) {
	raw := msg([]string{"From: Vercel <invoice+statements@vercel.com>", "Subject: Your receipt from Vercel Inc. #1"}, "Total $20.00")
	r := Classify(testCatalog(t), io.MultiReader(strings.NewReader(raw), failingReader{}), Options{})
	if !strings.Contains(r.Skipped, "connection reset") || !strings.HasPrefix(r.MessageID, "sha256:") {
		t.Errorf("partial read: %+v", r)
	}
}

func TestMessageIDFallback(t *testing.T) {
	raw := msg([]string{"From: x@example.org", "Subject: hi"}, "body")
	a := classifyString(t, raw, Options{Now: fixedNow})
	b := classifyString(t, raw, Options{Now: fixedNow})
	if !strings.HasPrefix(a.MessageID, "sha256:") || len(a.MessageID) != len("sha256:")+64 || a.MessageID != b.MessageID {
		t.Errorf("message ids %q %q", a.MessageID, b.MessageID)
	}
	if !a.Date.Equal(fixedNow()) {
		t.Errorf("a message without a date takes Now: %v", a.Date)
	}
	c := classifyString(t, raw+"x", Options{Now: fixedNow})
	if c.MessageID == a.MessageID {
		t.Error("different bytes, same hash")
	}
	withID := classifyString(t, msg([]string{"Message-ID: <abc@example.org>"}, ""), Options{})
	if withID.MessageID != "abc@example.org" {
		t.Errorf("Message-ID = %q", withID.MessageID)
	}
	received := classifyString(t, msg([]string{"Received: from x by y; Tue, 03 Nov 2026 08:00:00 +0100"}, ""), Options{Now: fixedNow})
	if got := received.Date.Format(time.RFC3339); got != "2026-11-03T07:00:00Z" {
		t.Errorf("date from Received = %s", got)
	}
}

func TestCandidate(t *testing.T) {
	c := testCatalog(t)
	tests := []struct {
		h    Header
		want bool
	}{
		{Header{From: "Vercel <invoice+statements@vercel.com>", Subject: "Your receipt from Vercel Inc. #2561-3340"}, true},
		{Header{From: "Paddle <help@paddle.com>", Subject: "Your receipt"}, true},
		{Header{From: "Google Play <googleplay-noreply@google.com>", Subject: "Your Google Play Order Receipt"}, true},
		{Header{From: "Google <no-reply@accounts.google.com>", Subject: "ChatGPT was granted access to your Google Account"}, true},
		{Header{From: "Hotel <folio@grand-hotel.example>", Subject: "Your invoice for your stay"}, true},
		{Header{From: "Someone <a@startup.example>", Subject: "Welcome to Acme"}, true},
		{Header{From: "News <news@random.example>", Subject: "This week in tech", ListUnsubscribe: "<https://random.example/u>"}, false},
		{Header{From: "Colleague <bob@acme.example>", Subject: "lunch?"}, false},
	}
	for _, tt := range tests {
		got, why := Candidate(c, tt.h)
		if got != tt.want || why == "" {
			t.Errorf("Candidate(%+v) = %v %q, want %v", tt.h, got, why, tt.want)
		}
	}
	if got, _ := Candidate(nil, Header{Subject: "invoice"}); got {
		t.Error("no catalog, yet a candidate")
	}
}

func TestEvidence(t *testing.T) {
	date := time.Date(2026, 11, 1, 23, 30, 0, 0, time.FixedZone("x", -3*3600)) // Nov 2 in UTC
	base := Result{AppID: "claude", MessageID: "m1@stripe.com", To: "Dana@Acme.example", Subject: "Your receipt from Anthropic, PBC #2381-4417", Date: date, AmountCents: 2000, Currency: "USD"}
	tests := []struct {
		kind   Kind
		source collector.Source
		ok     bool
	}{
		{KindInvoice, collector.SourceInvoice, true},
		{KindReceipt, collector.SourceInvoice, true},
		{KindRenewal, collector.SourceInvoice, true},
		{KindSignup, collector.SourceSignupEmail, true},
		{KindTrialEnding, collector.SourceSignupEmail, true},
		{KindOAuthGrant, collector.SourceSignupEmail, true},
		{KindMarketing, "", false},
		{KindSecurity, "", false},
		{KindNotSaaS, "", false},
		{KindUnknown, "", false},
	}
	for _, tt := range tests {
		r := base
		r.Kind = tt.kind
		e, ok := r.Evidence("ap@acme.example/INBOX")
		if ok != tt.ok {
			t.Errorf("%s: ok = %v", tt.kind, ok)
			continue
		}
		if !ok {
			continue
		}
		want := collector.Evidence{AppID: "claude", Source: tt.source, Person: "dana@acme.example", Day: "2026-11-02",
			FirstSeen: date.UTC(), LastSeen: date.UTC(), Count: 1, Detail: "ap@acme.example/INBOX: Your receipt from Anthropic, PBC #2381-4417",
			DedupeKey: "mail:m1@stripe.com"}
		if tt.source == collector.SourceInvoice {
			want.AmountCents, want.Currency = 2000, "USD"
		}
		if e != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.kind, e, want)
		}
	}
	r := base
	r.Kind, r.Skipped = KindReceipt, "too large"
	if _, ok := r.Evidence("x"); ok {
		t.Error("a skipped message yields evidence")
	}
	r = base
	r.Kind, r.AppID = KindReceipt, ""
	if _, ok := r.Evidence("x"); ok {
		t.Error("a message about no app yields evidence")
	}
	r = base
	r.Kind, r.To, r.Subject = KindReceipt, "", strings.Repeat("é", 300)
	e, _ := r.Evidence("ap@acme.example/Receipts")
	if e.Person != "ap@acme.example" || len(e.Detail) > maxDetail || !strings.HasPrefix(e.Detail, "ap@acme.example/Receipts: é") {
		t.Errorf("no To: person %q detail %q (%d bytes)", e.Person, e.Detail, len(e.Detail))
	}
}

// TestCorpusEvidenceKeys checks every corpus message that yields evidence
// yields a well-formed row, and never the body.
func TestCorpusEvidenceKeys(t *testing.T) {
	c := testCatalog(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "messages", "*.eml"))
	rows := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := Classify(c, strings.NewReader(string(raw)), Options{Now: fixedNow})
		e, ok := r.Evidence("ap@acme.example")
		if !ok {
			continue
		}
		rows++
		if e.AppID == "" || e.Person == "" || len(e.Day) != 10 || !strings.HasPrefix(e.DedupeKey, "mail:") || len(e.Detail) > maxDetail || e.Domain != "" {
			t.Errorf("%s: bad evidence %+v", filepath.Base(f), e)
		}
		if e.Person != strings.ToLower(e.Person) {
			t.Errorf("%s: person %q is not lowercase", filepath.Base(f), e.Person)
		}
	}
	if rows == 0 {
		t.Error("no corpus message yields evidence")
	}
}
