package mailbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/sources/mailbox/classify"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// headerClassifier is a plain judge for tests of the IMAP side: a
// message is a candidate when the catalog's mail matcher names an app
// and a billing or sign-up kind from its headers, and its evidence is
// keyed by Message-ID. The classify package's own judgement is tested
// there; here the expected evidence must follow from the messages alone.
type headerClassifier struct {
	c *signatures.Catalog
	// classified counts Classify calls: bodies fetched.
	mu         sync.Mutex
	classified int
}

func (hc *headerClassifier) match(from, subject string) signatures.MailMatch {
	return hc.c.MatchMailSender(signatures.MailHeader{From: from, Subject: subject})
}

func (hc *headerClassifier) Candidate(h classify.Header) (bool, string) {
	m := hc.match(h.From, h.Subject)
	switch m.Kind {
	case signatures.MailInvoice, signatures.MailReceipt, signatures.MailSignup:
		return m.App != nil, string(m.Kind)
	}
	return false, "not billing or sign-up mail"
}

func (hc *headerClassifier) Classify(raw io.Reader) classify.Result {
	hc.mu.Lock()
	hc.classified++
	hc.mu.Unlock()
	data, err := io.ReadAll(raw)
	if err != nil {
		return classify.Result{Skipped: "read"}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil || msg.Header.Get("X-Test-Unreadable") != "" {
		// The classifier's own reason, which the importer counts.
		return classify.Result{Skipped: "bad_mime"}
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	r := classify.Result{Kind: classify.KindUnknown, MessageID: msg.Header.Get("Message-Id"), From: msg.Header.Get("From"), To: msg.Header.Get("To"), Subject: subject}
	if r.MessageID == "" {
		sum := sha256.Sum256(data)
		r.MessageID = "sha256:" + hex.EncodeToString(sum[:])
	}
	r.Date, _ = msg.Header.Date()
	if m := hc.match(r.From, r.Subject); m.App != nil {
		r.AppID, r.Kind = m.App.ID, classify.Kind(m.Kind)
	}
	return r
}

func (hc *headerClassifier) Evidence(r classify.Result, mailbox string) (collector.Evidence, bool) {
	src := collector.SourceInvoice
	switch r.Kind {
	case classify.KindInvoice, classify.KindReceipt:
	case classify.KindSignup:
		src = collector.SourceSignupEmail
	default:
		return collector.Evidence{}, false
	}
	if r.AppID == "" {
		return collector.Evidence{}, false
	}
	person := ""
	if a, err := mail.ParseAddress(r.To); err == nil {
		person = strings.ToLower(a.Address)
	}
	return collector.Evidence{AppID: r.AppID, Source: src, Person: person, Day: r.Date.UTC().Format(time.DateOnly),
		FirstSeen: r.Date, LastSeen: r.Date, Count: 1, Detail: mailbox + ": " + r.Subject, DedupeKey: string(src) + ":" + r.MessageID}, true
}

// fixture is a store, catalog and classifier for one test.
type fixture struct {
	store *sqlite.Store
	cat   *signatures.Catalog
	cl    *headerClassifier
	now   time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, cat: cat, cl: &headerClassifier{c: cat}, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (f *fixture) env() *sources.Env {
	now := func() time.Time { return f.now }
	return &sources.Env{Stores: f.store, Catalog: f.cat, Progress: sources.NewProgress(now), Log: slog.New(slog.DiscardHandler), Now: now}
}

// options are the test's importer options: the header classifier, small
// chunks so that paging is exercised, retries that do not wait.
func (f *fixture) options(chunk int) Options {
	return Options{
		ChunkSize:      chunk,
		CommandTimeout: 20 * time.Second,
		DialTimeout:    5 * time.Second,
		Retry:          sources.Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }},
		NewClassifier:  func(*signatures.Catalog) Classifier { return f.cl },
	}
}

func (f *fixture) evidence(t testing.TB) []collector.Evidence {
	t.Helper()
	var all []collector.Evidence
	for _, src := range []collector.Source{collector.SourceInvoice, collector.SourceSignupEmail} {
		ev, err := f.store.ListEvidence(context.Background(), collector.EvidenceFilter{Source: src, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ev...)
	}
	return all
}

// keys is the sorted dedupe keys of ev.
func keys(ev []collector.Evidence) []string {
	var k []string
	for _, e := range ev {
		k = append(k, e.DedupeKey)
	}
	slices.Sort(k)
	return k
}

func (f *fixture) checkpoint(t testing.TB, key string) string {
	t.Helper()
	v, _, err := f.store.Checkpoint(context.Background(), SourceName, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mailboxConfig(name, addr, tlsMode, auth, secret, caFile string, folders ...string) config.Mailbox {
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	return config.Mailbox{Name: name, Host: host, Port: p, TLS: tlsMode, CAFile: caFile, Auth: auth, Username: testUser, Password: config.Secret(secret), Folders: folders}
}

// generated is a message no classifier cares about: personal mail or a
// newsletter, as most of an AP mailbox is.
func generated(i int) []byte {
	from, subject, extra := fmt.Sprintf("Colleague %d <person%d@example.com>", i, i), fmt.Sprintf("Re: budget question %d", i), ""
	if i%3 == 0 {
		from, subject, extra = "The Weekly Byte <news@weeklybyte.example>", fmt.Sprintf("Issue #%d: what shipped this week", i), "List-Unsubscribe: <mailto:unsub@weeklybyte.example>\r\n"
	}
	return fmt.Appendf(nil, "Date: Mon, 02 Nov 2026 10:%02d:00 +0000\r\nFrom: %s\r\nTo: ap@example.com\r\nMessage-ID: <gen-%d@example.com>\r\nSubject: %s\r\n%sMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of message %d.\r\n", i%60, from, i, subject, extra, i)
}

// stripeReceipt is a generated candidate: a Stripe-hosted receipt from a
// catalog vendor.
func stripeReceipt(i int) []byte {
	return fmt.Appendf(nil, "Date: Tue, 03 Nov 2026 08:00:00 +0000\r\nFrom: Vercel Inc. <invoice+statements@vercel.com>\r\nTo: ap@example.com\r\nMessage-ID: <receipt-%d@email.stripe.com>\r\nSubject: Your receipt from Vercel Inc. #%04d-%04d\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAmount paid $%d.00\r\n", i, i, i*7, 20+i)
}

var realMessages = []string{"vercel-stripe-receipt.eml", "slack-invoice.eml", "notion-welcome.eml", "figma-receipt-cp1252.eml", "hotel-receipt.eml", "newsletter.eml", "personal.eml", "linear-receipt-no-message-id.eml"}

// fill puts the real test messages and n generated ones into folder,
// every fifth generated one a receipt.
func fill(t testing.TB, s *memServer, folder string, n int) {
	for _, name := range realMessages {
		s.add(t, folder, readMessage(t, name))
	}
	for i := range n {
		if i%5 == 4 {
			s.add(t, folder, stripeReceipt(i))
		} else {
			s.add(t, folder, generated(i))
		}
	}
}

func TestScanAndRescan(t *testing.T) {
	srv := startMemServer(t, "none")
	fill(t, srv, "INBOX", 30)
	f := newFixture(t)
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("ap-inbox", srv.addr, "none", "plain", testPassword, "")}}, f.options(7))
	if err != nil {
		t.Fatal(err)
	}
	if imp.Name() != "mail" {
		t.Errorf("Name = %q", imp.Name())
	}
	env := f.env()
	if err := imp.Import(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	got := keys(f.evidence(t))
	// vercel, slack, figma, linear (no Message-ID: a hash), notion's
	// welcome, and the 6 generated receipts (i = 4, 9, ... 29).
	if len(got) != 11 {
		t.Fatalf("evidence keys %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	for _, want := range []string{
		"invoice:<0102018f5a2b3c4d-vercel-receipt-2107@email.stripe.com>",
		"invoice:<20261104000244.7f3a.invoice@slack.com>",
		"signup_email:<welcome-3b1c9e@mail.notion.so>",
		"invoice:<receipt-29@email.stripe.com>",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no evidence %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	if !slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, "invoice:sha256:") }) {
		t.Errorf("the message without a Message-ID has no hash key: %v", got)
	}
	snap := env.Progress.Snapshot()
	if snap.Events != 38 || snap.Total != 38 || snap.Imported != 11 {
		t.Errorf("progress %+v, want 38 events of 38, 11 imported", snap)
	}
	// Bodies only for candidates: the 11, not the 27 others.
	if f.cl.classified != 11 {
		t.Errorf("bodies classified %d, want 11", f.cl.classified)
	}
	if cp := f.checkpoint(t, "ap-inbox/INBOX"); cp != "1:38" {
		t.Errorf("checkpoint %q, want 1:38", cp)
	}

	// A rescan with nothing new reads nothing and stores nothing.
	env2 := f.env()
	if err := imp.Import(context.Background(), env2); err != nil {
		t.Fatal(err)
	}
	if s := env2.Progress.Snapshot(); s.Events != 0 || s.Imported != 0 {
		t.Errorf("rescan progress %+v, want nothing", s)
	}
	// New mail: only it is read.
	srv.add(t, "INBOX", stripeReceipt(100))
	srv.add(t, "INBOX", generated(101))
	env3 := f.env()
	if err := imp.Import(context.Background(), env3); err != nil {
		t.Fatal(err)
	}
	if s := env3.Progress.Snapshot(); s.Events != 2 || s.Imported != 1 || s.Total != 2 {
		t.Errorf("incremental progress %+v, want 2 events, 1 new", s)
	}
	if cp := f.checkpoint(t, "ap-inbox/INBOX"); cp != "1:40" {
		t.Errorf("checkpoint %q, want 1:40", cp)
	}
	if n := len(f.evidence(t)); n != 12 {
		t.Errorf("evidence after new mail: %d, want 12", n)
	}
}

func TestTransportsAndMechanisms(t *testing.T) {
	tests := []struct {
		mode, auth, secret string
	}{
		{"none", "plain", testPassword},
		{"none", "login", testPassword},
		{"none", "xoauth2", testToken},
		{"implicit", "plain", testPassword},
		{"implicit", "xoauth2", testToken},
		{"starttls", "login", testPassword},
		{"starttls", "plain", testPassword},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.auth, func(t *testing.T) {
			srv := startMemServer(t, tt.mode)
			srv.add(t, "INBOX", readMessage(t, "vercel-stripe-receipt.eml"))
			srv.add(t, "INBOX", readMessage(t, "personal.eml"))
			f := newFixture(t)
			ca := ""
			if tt.mode != "none" {
				ca = srv.caFile
			}
			imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, tt.mode, tt.auth, tt.secret, ca)}}, f.options(0))
			if err != nil {
				t.Fatal(err)
			}
			if err := imp.Import(context.Background(), f.env()); err != nil {
				t.Fatal(err)
			}
			if got := keys(f.evidence(t)); len(got) != 1 {
				t.Errorf("evidence %v, want the Vercel receipt", got)
			}
			if srv.logins.Load() != 1 {
				t.Errorf("logins %d", srv.logins.Load())
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	srv := startMemServer(t, "implicit")
	tests := []struct {
		name, auth, secret, ca string
		want                   []string
	}{
		{"wrong password plain", "plain", "hunter2-wrong", srv.caFile, []string{"refused the username or password"}},
		{"wrong password login", "login", "hunter2-wrong", srv.caFile, []string{"refused the username or password"}},
		{"expired token", "xoauth2", "ya29.expired-token", srv.caFile, []string{"invalid or expired (status 401)", "https://mail.google.com/"}},
		{"untrusted certificate", "plain", testPassword, "", []string{"not trusted", "ca_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "implicit", tt.auth, tt.secret, tt.ca)}}, f.options(0))
			if err != nil {
				t.Fatal(err)
			}
			err = imp.Import(context.Background(), f.env())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q holds the secret", err)
			}
			if !strings.Contains(err.Error(), "mailbox m") {
				t.Errorf("error %q does not name the mailbox", err)
			}
		})
	}
}

// flagsOf reads every message's flags over a separate connection.
func flagsOf(t *testing.T, addr, folder string) map[imap.UID][]imap.Flag {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[imap.UID][]imap.Flag{}
	for _, m := range msgs {
		fl := slices.Clone(m.Flags)
		slices.Sort(fl)
		out[m.UID] = fl
	}
	return out
}

func TestSeenFlagsUntouched(t *testing.T) {
	srv := startMemServer(t, "none")
	for i, name := range realMessages {
		if i%2 == 0 {
			srv.add(t, "INBOX", readMessage(t, name), imap.FlagSeen)
		} else {
			srv.add(t, "INBOX", readMessage(t, name))
		}
	}
	before := flagsOf(t, srv.addr, "INBOX")
	f := newFixture(t)
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "none", "plain", testPassword, "")}}, f.options(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := imp.Import(context.Background(), f.env()); err != nil {
		t.Fatal(err)
	}
	if f.cl.classified == 0 {
		t.Fatal("no body was fetched: the test proves nothing")
	}
	after := flagsOf(t, srv.addr, "INBOX")
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("flags changed by the scan:\nbefore %v\nafter  %v", before, after)
	}
}

func TestSizeCapSkipsAndCounts(t *testing.T) {
	srv := startMemServer(t, "none")
	big := append(stripeReceipt(1), bytes.Repeat([]byte("padding line of an attached PDF, base64 and all\r\n"), 200)...)
	srv.add(t, "INBOX", big)
	srv.add(t, "INBOX", stripeReceipt(2))
	srv.add(t, "INBOX", []byte("From: Vercel Inc. <invoice+statements@vercel.com>\r\nSubject: Your receipt from Vercel Inc. #1\r\nMessage-ID: <broken@x>\r\nX-Test-Unreadable: yes\r\n\r\nbody\r\n"))
	f := newFixture(t)
	imp, err := New(config.Mail{MaxMessageBytes: 4096, Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "none", "plain", testPassword, "")}}, f.options(0))
	if err != nil {
		t.Fatal(err)
	}
	env := f.env()
	if err := imp.Import(context.Background(), env); err != nil {
		t.Fatalf("skipped messages must not fail the run: %v", err)
	}
	// The run's own counts, which source health shows.
	if run := env.Progress.Snapshot().Skipped; run["too_large"] != 1 || run["bad_mime"] != 1 {
		t.Errorf("the run's skipped counts %v, want too_large=1 bad_mime=1", run)
	}
	if got := keys(f.evidence(t)); !slices.Equal(got, []string{"invoice:<receipt-2@email.stripe.com>"}) {
		t.Errorf("evidence %v", got)
	}
	counts, err := Skipped(context.Background(), f.store, "m")
	if err != nil {
		t.Fatal(err)
	}
	if counts["too_large"] != 1 || counts["bad_mime"] != 1 || len(counts) != 2 {
		t.Errorf("skipped %v, want too_large=1 bad_mime=1", counts)
	}
	// A rescan with nothing new counts nothing again.
	if err := imp.Import(context.Background(), f.env()); err != nil {
		t.Fatal(err)
	}
	if again, _ := Skipped(context.Background(), f.store, "m"); fmt.Sprint(again) != fmt.Sprint(counts) {
		t.Errorf("skipped after rescan %v, want %v", again, counts)
	}
}

func TestUIDValidityChangeRescans(t *testing.T) {
	srv := startMemServer(t, "none")
	fill(t, srv, "INBOX", 10)
	f := newFixture(t)
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "none", "plain", testPassword, "")}}, f.options(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := imp.Import(context.Background(), f.env()); err != nil {
		t.Fatal(err)
	}
	first := keys(f.evidence(t))
	cp := f.checkpoint(t, "m/INBOX")

	// The server rebuilds the folder: same messages, new UIDVALIDITY.
	if err := srv.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := srv.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	fill(t, srv, "INBOX", 10)
	env := f.env()
	if err := imp.Import(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if s := env.Progress.Snapshot(); s.Events != 18 || s.Imported != 0 {
		t.Errorf("rescan progress %+v, want 18 read, 0 new", s)
	}
	if got := keys(f.evidence(t)); !slices.Equal(got, first) {
		t.Errorf("evidence after the rescan\n%v\nwant\n%v", got, first)
	}
	if now := f.checkpoint(t, "m/INBOX"); now == cp || !strings.HasSuffix(now, ":18") {
		t.Errorf("checkpoint %q after the UIDVALIDITY change (was %q)", now, cp)
	}
}

func TestDroppedConnectionResumes(t *testing.T) {
	srv := startMemServer(t, "none")
	fill(t, srv, "INBOX", 40) // 48 messages
	f := newFixture(t)

	// A clean scan elsewhere gives the evidence the interrupted one must
	// end with.
	clean := newFixture(t)
	cimp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "none", "plain", testPassword, "")}}, clean.options(10))
	if err != nil {
		t.Fatal(err)
	}
	if err := cimp.Import(context.Background(), clean.env()); err != nil {
		t.Fatal(err)
	}
	want := keys(clean.evidence(t))

	// The proxy cuts the connection in the third chunk's header fetch:
	// chunks of 10, each a header FETCH of 10 responses and a body FETCH
	// of its candidates (5 in the first chunk: the real receipts and the
	// welcome; 2 in the second), so 27 FETCH responses get through the
	// first two chunks and the cut falls at the third chunk's 4th.
	proxy := startDropProxy(t, srv.addr, 30)
	pimp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", proxy.addr, "none", "plain", testPassword, "")}}, f.options(10))
	if err != nil {
		t.Fatal(err)
	}
	err = pimp.Import(context.Background(), f.env())
	if err == nil {
		t.Fatal("the cut connection did not fail the run")
	}
	if !strings.Contains(err.Error(), "mailbox m: folder INBOX: messages 21-30 of 48") {
		t.Errorf("error %q does not say where it stopped", err)
	}
	if cp := f.checkpoint(t, "m/INBOX"); cp != "1:20" {
		t.Errorf("checkpoint after the cut %q, want 1:20 (the last stored chunk)", cp)
	}
	partial := len(f.evidence(t))
	if partial == 0 || partial >= len(want) {
		t.Errorf("evidence after the cut %d of %d", partial, len(want))
	}

	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "none", "plain", testPassword, "")}}, f.options(10))
	if err != nil {
		t.Fatal(err)
	}
	env := f.env()
	if err := imp.Import(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if s := env.Progress.Snapshot(); s.Events != 28 {
		t.Errorf("the resumed run read %d messages, want the 28 after the checkpoint", s.Events)
	}
	if got := keys(f.evidence(t)); !slices.Equal(got, want) {
		t.Errorf("evidence after resume\n%v\nwant\n%v", got, want)
	}
	if cp := f.checkpoint(t, "m/INBOX"); cp != "1:48" {
		t.Errorf("checkpoint %q", cp)
	}
}

func TestFoldersAndMailboxes(t *testing.T) {
	a := startMemServer(t, "none")
	a.add(t, "INBOX", readMessage(t, "slack-invoice.eml"))
	a.add(t, "Receipts", readMessage(t, "vercel-stripe-receipt.eml"))
	a.add(t, "Receipts", readMessage(t, "figma-receipt-cp1252.eml"))
	b := startMemServer(t, "none")
	b.add(t, "INBOX", readMessage(t, "notion-welcome.eml"))
	f := newFixture(t)
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{
		mailboxConfig("finance", a.addr, "none", "plain", testPassword, "", "INBOX", "No Such Folder", "Receipts"),
		mailboxConfig("it", b.addr, "none", "login", testPassword, ""),
	}}, f.options(0))
	if err != nil {
		t.Fatal(err)
	}
	err = imp.Import(context.Background(), f.env())
	if err == nil || !strings.Contains(err.Error(), "mailbox finance: folder No Such Folder: examine") {
		t.Errorf("error %v, want the missing folder named", err)
	}
	if got := keys(f.evidence(t)); len(got) != 4 {
		t.Errorf("evidence %v, want 4: a missing folder must not stop the others", got)
	}
	for key, want := range map[string]string{"finance/INBOX": "1:1", "finance/Receipts": "2:2", "it/INBOX": "1:1"} {
		if got := f.checkpoint(t, key); got != want {
			t.Errorf("checkpoint %s = %q, want %q", key, got, want)
		}
	}
	ev := f.evidence(t)
	var detail string
	for _, e := range ev {
		if e.AppID == "notion" {
			detail = e.Detail
		}
	}
	if !strings.HasPrefix(detail, "it/INBOX: ") {
		t.Errorf("notion evidence detail %q does not name its mailbox", detail)
	}
}

func TestCancelledRun(t *testing.T) {
	srv := startMemServer(t, "none")
	fill(t, srv, "INBOX", 5)
	f := newFixture(t)
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", srv.addr, "none", "plain", testPassword, "")}}, f.options(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := imp.Import(ctx, f.env()); err == nil {
		t.Error("a cancelled run succeeded")
	}
	if cp := f.checkpoint(t, "m/INBOX"); cp != "" {
		t.Errorf("checkpoint %q after a cancelled run", cp)
	}
}

func TestNewRejects(t *testing.T) {
	good := mailboxConfig("m", "127.0.0.1:1143", "none", "plain", "pw", "")
	tests := []struct {
		name string
		cfg  config.Mail
		want string
	}{
		{"no mailboxes", config.Mail{}, "no mailboxes"},
		{"clear text to a remote host", config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", "imap.example.com:143", "none", "plain", "pw", "")}}, "only for a server on this machine"},
		{"unknown auth", config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", "127.0.0.1:1", "none", "cram-md5", "pw", "")}}, "auth \"cram-md5\""},
		{"no secret", config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", "127.0.0.1:1", "none", "plain", "", "")}}, "no password"},
		{"twice the same name", config.Mail{Mailboxes: []config.Mailbox{good, good}}, "used twice"},
		{"missing ca file", config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", "127.0.0.1:1", "implicit", "plain", "pw", "/nonexistent/ca.pem")}}, "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestFolderCheckpointRoundTrip(t *testing.T) {
	for _, v := range []string{"1:0", "4294967295:4294967295", "77:12"} {
		cp, ok := parseFolderCheckpoint(v)
		if !ok || cp.String() != v {
			t.Errorf("%q -> %v %v", v, cp, ok)
		}
	}
	for _, v := range []string{"", "1", "x:1", "1:x", "1:-1", "4294967296:1"} {
		if _, ok := parseFolderCheckpoint(v); ok {
			t.Errorf("%q parsed", v)
		}
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	// A server that accepts and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	f := newFixture(t)
	opts := f.options(0)
	opts.CommandTimeout = 100 * time.Millisecond
	imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("m", ln.Addr().String(), "none", "plain", testPassword, "")}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = imp.Import(context.Background(), f.env())
	if err == nil || !strings.Contains(err.Error(), "no answer from the server within 100ms") {
		t.Errorf("error %v, want a timeout", err)
	}
}
