package service

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// TestImporterBuilderUsesWebCredential: the scheduler's build function
// builds the Okta importer with the token set in the web view (Okta sees
// it in the SSWS header), and with the configuration's once the override
// is removed, without a restart.
func TestImporterBuilderUsesWebCredential(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	okta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, `{"errorCode":"E0000011"}`, http.StatusUnauthorized)
	}))
	defer okta.Close()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "shadowmap.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	catalog, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	src := config.Sources{Okta: config.Okta{URL: okta.URL, Token: "config-token", Backfill: config.DefaultOktaBackfill}}
	log := slog.New(slog.DiscardHandler)
	sched := &sources.Scheduler{
		Runner: &sources.Runner{Stores: store, Runs: store, Catalog: catalog, Log: log},
		Build:  importerBuilder(src, store, log),
	}
	round := func() string {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
		sched.RunOnce(ctx)
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			t.Fatal("the round did not call Okta")
		}
		return seen[0]
	}
	if got := round(); got != "SSWS config-token" {
		t.Errorf("before any override: %q", got)
	}
	credDir := credentialsDir(config.Config{DataDir: dir})
	path, err := collector.WriteCredentialFile(credDir, collector.CredentialOktaToken, []byte("web-token\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetCredentialOverride(ctx, collector.CredentialOverride{Key: collector.CredentialOktaToken, File: path, SetBy: "it@acme.example"}); err != nil {
		t.Fatal(err)
	}
	if got := round(); got != "SSWS web-token" {
		t.Errorf("the round after setting a token in the web view: %q, want SSWS web-token", got)
	}
	if err := store.DeleteCredentialOverride(ctx, collector.CredentialOktaToken); err != nil {
		t.Fatal(err)
	}
	if got := round(); got != "SSWS config-token" {
		t.Errorf("after Remove: %q, want the configuration's", got)
	}
	if src.Okta.Token != "config-token" {
		t.Error("the build changed the configuration")
	}
}

// TestWithCredentialOverrides: each kind of override replaces its value;
// an unreadable or oversized file keeps the configuration's; an override
// of a mailbox no longer configured is ignored; the input is untouched.
func TestWithCredentialOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(key, value string) string {
		t.Helper()
		p, err := collector.WriteCredentialFile(dir, key, []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, collector.MaxCredentialBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	in := config.Sources{
		Okta:   config.Okta{Token: "okta-config"},
		Entra:  config.Entra{ClientSecret: "entra-config"},
		Google: config.Google{CredentialsFile: "/etc/google.json"},
		Mail:   config.Mail{Mailboxes: []config.Mailbox{{Name: "ap", Password: "ap-config"}, {Name: "it", Password: "it-config"}}},
	}
	out := withCredentialOverrides(in, []collector.CredentialOverride{
		{Key: collector.CredentialOktaToken, File: filepath.Join(dir, "missing")},
		{Key: collector.CredentialEntraSecret, File: big},
		{Key: collector.CredentialGoogleKey, File: write(collector.CredentialGoogleKey, "{}")},
		{Key: collector.MailboxCredential("ap"), File: write(collector.MailboxCredential("ap"), " ap web \n")},
		{Key: collector.MailboxCredential("gone"), File: write(collector.MailboxCredential("gone"), "x")},
	}, slog.New(slog.DiscardHandler))
	if out.Okta.Token != "okta-config" || out.Entra.ClientSecret != "entra-config" {
		t.Errorf("unreadable overrides replaced the configuration: %q %q", out.Okta.Token, out.Entra.ClientSecret)
	}
	if out.Google.CredentialsFile != filepath.Join(dir, collector.CredentialGoogleKey) {
		t.Errorf("google key file %q", out.Google.CredentialsFile)
	}
	if out.Mail.Mailboxes[0].Password != "ap web" || out.Mail.Mailboxes[1].Password != "it-config" {
		t.Errorf("mailboxes %q %q", out.Mail.Mailboxes[0].Password, out.Mail.Mailboxes[1].Password)
	}
	if in.Mail.Mailboxes[0].Password != "ap-config" || in.Google.CredentialsFile != "/etc/google.json" {
		t.Error("the configuration given was changed")
	}
}

// TestImportCommandUsesWebCredential: `shadowmap import okta` uses the
// token set in the web view, not the configuration file's.
func TestImportCommandUsesWebCredential(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var seen string
	okta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Get("Authorization")
		mu.Unlock()
		http.Error(w, `{"errorCode":"E0000011"}`, http.StatusUnauthorized)
	}))
	defer okta.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "shadowmap.yaml")
	cfg := "data_dir: " + dir + "\nsources:\n  okta:\n    url: " + okta.URL + "\n    token: config-token\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, config.DatabaseFileName), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	path, err := collector.WriteCredentialFile(credentialsDir(config.Config{DataDir: dir}), collector.CredentialOktaToken, []byte("web-token"))
	if err == nil {
		err = store.SetCredentialOverride(ctx, collector.CredentialOverride{Key: collector.CredentialOktaToken, File: path, SetBy: "it@acme.example"})
	}
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	_ = ImportCommand(&stdout, &stderr, nil).Run([]string{"--config", cfgFile, "okta"}) // Okta answers 401
	mu.Lock()
	defer mu.Unlock()
	if seen != "SSWS web-token" {
		t.Errorf("import sent %q, want SSWS web-token\n%s", seen, stderr.String())
	}
}
