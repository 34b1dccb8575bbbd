package mailbox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/internal/golden"
)

// formatEvidence is the evidence as golden text, one row a line, sorted.
func formatEvidence(f *fixture, t testing.TB) string {
	var lines []string
	for _, e := range f.evidence(t) {
		lines = append(lines, fmt.Sprintf("%s %s %s %s %d %s %q %s", e.Source, e.AppID, e.Person, e.Day, e.AmountCents, e.Currency, e.Detail, e.DedupeKey))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestRealClassifier scans the project's test messages with the default
// classifier (the classify package and the embedded catalog) and keeps
// the evidence as a golden file: what an AP inbox of these messages
// yields end to end.
func TestRealClassifier(t *testing.T) {
	srv := startMemServer(t, "none")
	for _, name := range realMessages {
		srv.add(t, "INBOX", readMessage(t, name))
	}
	f := newFixture(t)
	opts := f.options(3)
	opts.NewClassifier = nil
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("ap-inbox", srv.addr, "none", "plain", testPassword, "")}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := imp.Import(context.Background(), f.env()); err != nil {
		t.Fatal(err)
	}
	got := formatEvidence(f, t)
	golden.Check(t, "testdata/real-classifier.golden", got)
	env := f.env()
	if err := imp.Import(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if s := env.Progress.Snapshot(); s.Imported != 0 || s.Events != 0 {
		t.Errorf("rescan %+v", s)
	}
}
