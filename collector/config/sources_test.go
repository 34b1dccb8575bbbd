package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSourcesConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "imap-password")
	if err := os.WriteFile(secret, []byte("hunter2-imap\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		want string // in the error; "" for none
	}{
		{"a mailbox with defaults", "sources:\n  mail:\n    mailboxes:\n      - {name: ap, host: imap.example.com, username: ap@acme.example, password_file: " + secret + "}\n", ""},
		{"plain IMAP to another host", "sources:\n  mail:\n    mailboxes:\n      - {name: ap, host: imap.example.com, tls: none, username: u, password: p}\n", "in clear"},
		{"two mailboxes with one name", "sources:\n  mail:\n    mailboxes:\n      - {name: ap, host: 127.0.0.1, tls: none, username: u, password: p}\n      - {name: ap, host: 127.0.0.1, tls: none, username: v, password: p}\n", "used twice"},
		{"no password", "sources:\n  mail:\n    mailboxes:\n      - {name: ap, host: imap.example.com, username: u}\n", "password or password_file"},
		{"unknown auth", "sources:\n  mail:\n    mailboxes:\n      - {name: ap, host: imap.example.com, username: u, password: p, auth: cram-md5}\n", "plain, login or xoauth2"},
		{"okta without a token", "sources:\n  okta:\n    url: https://acme.okta.com\n", "token or token_file"},
		{"okta over plain http", "sources:\n  okta:\n    url: http://acme.okta.com\n    token: t\n", "use https"},
		// A name that only starts like a loopback address is not one.
		{"okta over plain http to a 127. name", "sources:\n  okta:\n    url: http://127.evil.example\n    token: t\n", "use https"},
		{"plain IMAP to a 127. name", "sources:\n  mail:\n    mailboxes:\n      - {name: ap, host: 127.evil.example, tls: none, username: u, password: p}\n", "in clear"},
		{"entra without a secret", "sources:\n  entra:\n    tenant_id: t\n    client_id: c\n", "client_secret"},
		{"google without an admin", "sources:\n  google:\n    credentials_file: /k.json\n", "admin_email"},
		{"a domain that is not one", "sources:\n  dns_zone:\n    domains: [\"acme example\"]\n", "not a domain name"},
		{"an interval too short", "sources:\n  interval: 10s\n", "at least 1m"},
		{"OIDC open to every account", "oidc:\n  issuer: https://acme.okta.com\n  client_id: c\n  client_secret: s\n  redirect_url: https://shadowmap.acme.example/signin/oidc/callback\n", "allowed_domains or allowed_emails"},
		{"OIDC without a secret", "oidc:\n  issuer: https://acme.okta.com\n  client_id: c\n  redirect_url: https://shadowmap.acme.example/signin/oidc/callback\n  allowed_domains: [acme.example]\n", "client_secret"},
		{"OIDC with a wrong callback", "oidc:\n  issuer: https://acme.okta.com\n  client_id: c\n  client_secret: s\n  redirect_url: https://shadowmap.acme.example/callback\n  allowed_domains: [acme.example]\n", "redirect_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shadowmap.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, []string{"SHADOWMAP_DATABASE=" + filepath.Join(dir, "db")}, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				m := cfg.Sources.Mail.Mailboxes[0]
				if m.TLS != "implicit" || m.Auth != "plain" || m.Port != 993 || m.Password.Reveal() != "hunter2-imap" {
					t.Errorf("mailbox defaults: %+v", m)
				}
				if strings.Contains(cfg.Redacted().Sources.Mail.Mailboxes[0].Password.Reveal(), "hunter2") {
					t.Error("the redacted configuration holds the mailbox password")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestGoogleTokenSweepInterval(t *testing.T) {
	dir := t.TempDir()
	const google = "sources:\n  google:\n    credentials_file: /etc/shadowmap/google.json\n    admin_email: it-admin@acme.example\n"
	tests := []struct {
		name string
		yaml string
		want time.Duration
		err  string // in the error; "" for none
	}{
		{"default", google, 6 * time.Hour, ""},
		{"set", google + "    token_sweep_interval: 24h\n", 24 * time.Hour, ""},
		{"zero", google + "    token_sweep_interval: 0s\n", 0, "sources.google.token_sweep_interval 0s: must be positive"},
		{"negative", google + "    token_sweep_interval: -1h\n", 0, "sources.google.token_sweep_interval -1h0m0s: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shadowmap.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, []string{"SHADOWMAP_DATABASE=" + filepath.Join(dir, "db")}, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Sources.Google.TokenSweepInterval; got != tt.want {
				t.Errorf("token_sweep_interval = %s, want %s", got, tt.want)
			}
		})
	}
}
