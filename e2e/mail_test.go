package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/shadowmap/shadowmap/collector/service"
)

// startIMAP serves an accounts-payable mailbox holding the test company's
// mail on a loopback port with go-imap's in-memory server.
func startIMAP(t *testing.T, user, password string) string {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(user, password)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "company", "mail", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("mail fixtures: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Append("INBOX", bytes.NewReader(raw), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true, // loopback only, as the importer's "tls: none" is
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestMailSpendInInventory imports an accounts-payable mailbox with
// `shadowmap import mail` and finds the bills as spend per app and month in
// the collector's inventory, the welcome mail as a sign-up, and nothing
// from the newsletter or the forged Slack bill.
func TestMailSpendInInventory(t *testing.T) {
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(startIMAP(t, "ap@acme.example", "imap-password-0123"))
	cfgFile := filepath.Join(dir, "shadowmap.yaml")
	cfg := `database: ` + filepath.Join(dir, "shadowmap.db") + `
enroll_secrets: [{name: e2e, secret: ` + enrollSecret + `}]
admin_tokens: [{name: e2e, token: ` + adminToken + `}]
sources:
  mail:
    mailboxes:
      - {name: ap, host: "` + host + `", port: ` + port + `, tls: none, username: ap@acme.example, password: imap-password-0123}
`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for run, want := range []string{"mail: 5 events read", "mail: 0 events read"} {
		var stdout, stderr strings.Builder
		if err := service.ImportCommand(&stdout, &stderr, nil).Run([]string{"--config", cfgFile, "mail"}); err != nil {
			t.Fatalf("import mail: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("run %d printed %q, want %q", run, stdout.String(), want)
		}
	}

	url := serveConfigFile(t, cfgFile)
	resp := adminGet(t, url, "/api/v1/apps?limit=1000")
	defer resp.Body.Close()
	var page struct {
		Apps []struct {
			ID       string           `json:"id"`
			Evidence map[string]int64 `json:"evidence"`
			Spend    []struct {
				Month   string `json:"month"`
				Amounts []struct {
					Currency string `json:"currency"`
					Cents    int64  `json:"cents"`
				} `json:"amounts"`
			} `json:"spend"`
		} `json:"apps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	spend := map[string]string{}
	signups := map[string]int64{}
	for _, a := range page.Apps {
		for _, m := range a.Spend {
			for _, amt := range m.Amounts {
				spend[a.ID] += fmt.Sprintf("%s %s %d", m.Month, amt.Currency, amt.Cents)
			}
		}
		signups[a.ID] = a.Evidence["signup_email"]
	}
	want := map[string]string{"vercel": "2026-11 USD 6000", "slack": "2026-11 USD 122500"}
	for app, w := range want {
		if spend[app] != w {
			t.Errorf("%s spend %q, want %q (all: %v)", app, spend[app], w, spend)
		}
	}
	if len(spend) != len(want) {
		t.Errorf("spend for apps %v; only the two real bills should count (the forged Slack bill and the newsletter must not)", spend)
	}
	if signups["notion"] != 1 {
		t.Errorf("notion sign-up mails: %d, want 1", signups["notion"])
	}
}
