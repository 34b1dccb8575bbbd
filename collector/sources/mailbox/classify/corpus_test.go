package classify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shadowmap/shadowmap/signatures"
)

// catalog loads the embedded catalog once for all tests in the package.
var catalog = sync.OnceValues(signatures.Embedded)

func testCatalog(t testing.TB) *signatures.Catalog {
	t.Helper()
	c, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// expectation is one message of testdata/expected.json. Only the fields
// the manifest gives are checked, so each entry is kept as raw fields.
type expectation map[string]json.RawMessage

func readManifest(t testing.TB) []expectation {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Messages []expectation `json:"messages"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("testdata/expected.json: %v", err)
	}
	return m.Messages
}

func (e expectation) str(key string) string {
	var s string
	if raw, ok := e[key]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// TestCorpus runs the classifier on every message of the corpus and
// checks each field the manifest gives for it.
func TestCorpus(t *testing.T) {
	c := testCatalog(t)
	msgs := readManifest(t)
	if len(msgs) == 0 {
		t.Fatal("testdata/expected.json lists no messages")
	}
	for _, want := range msgs {
		file := want.str("file")
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "messages", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := Classify(c, f, Options{})
			fields := map[string]any{
				"kind":           string(got.Kind),
				"app_id":         got.AppID,
				"vendor":         got.Vendor,
				"processor":      got.Processor,
				"amount_cents":   got.AmountCents,
				"currency":       got.Currency,
				"invoice_number": got.InvoiceNumber,
				"period_start":   got.PeriodStart,
				"period_end":     got.PeriodEnd,
				"plan":           got.Plan,
				"seats":          got.Seats,
				"message_id":     got.MessageID,
				"to":             got.To,
			}
			for key, raw := range want {
				switch key {
				case "file", "note":
					continue
				case "skipped":
					var skipped bool
					if err := json.Unmarshal(raw, &skipped); err != nil {
						t.Fatalf("skipped: %v", err)
					}
					if skipped != (got.Skipped != "") {
						t.Errorf("skipped = %q, want skipped %v", got.Skipped, skipped)
					}
					continue
				}
				g, ok := fields[key]
				if !ok {
					t.Logf("manifest field %q is not checked", key)
					continue
				}
				var w any
				switch g.(type) {
				case string:
					var s string
					err = json.Unmarshal(raw, &s)
					w = s
				case int64:
					var n int64
					err = json.Unmarshal(raw, &n)
					w = n
				case int:
					var n int
					err = json.Unmarshal(raw, &n)
					w = n
				}
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				if fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("%s = %v, want %v (%s)", key, g, w, want.str("note"))
				}
			}
		})
	}
}

// TestCorpusCandidates checks that the header-only Candidate would fetch
// the body of every corpus message that yields evidence: a message it
// passes over is evidence lost.
func TestCorpusCandidates(t *testing.T) {
	c := testCatalog(t)
	for _, want := range readManifest(t) {
		file := want.str("file")
		raw, err := os.ReadFile(filepath.Join("testdata", "messages", file))
		if err != nil {
			t.Fatal(err)
		}
		r := Classify(c, bytes.NewReader(raw), Options{})
		if _, ok := r.Evidence("ap@acme.example"); !ok {
			continue
		}
		m := parse(raw, nil)
		h := Header{MessageID: m.messageID, From: m.from, ReplyTo: m.replyTo, To: m.to, Subject: m.subject, Date: m.date, ListUnsubscribe: m.listUnsub}
		if ok, why := Candidate(c, h); !ok {
			t.Errorf("%s yields %s evidence but Candidate says no (%s)", file, r.Kind, why)
		}
	}
}
