package digest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

type fakeInventory []inventory.AppRow

func (f fakeInventory) AllApps(context.Context, inventory.Query) ([]inventory.AppRow, error) {
	return f, nil
}

func commandEnv(t *testing.T, smtpCfg config.SMTP) (CommandEnv, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	// Wednesday of 2026-W49: the last full week is W48, when the app
	// was first seen.
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	inv := fakeInventory{{ID: "evil", Name: "<script>alert(1)</script>", People: 3, Devices: 3,
		FirstSeen: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}}
	cfg := config.Default()
	cfg.Digest.BaseURL = "https://shadowmap.example"
	cfg.Digest.Company = "Acme"
	cfg.Digest.From = "shadowmap@example.com"
	cfg.Digest.SMTP = smtpCfg
	return CommandEnv{
		Stdout: &stdout, Stderr: &stderr, Now: func() time.Time { return now },
		Open: func(context.Context, string) (Opened, error) {
			return Opened{Config: cfg, Deps: Deps{Inventory: inv}}, nil
		},
	}, &stdout, &stderr
}

func TestPreviewCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
		err     string
	}{
		{"html", []string{"preview"}, []string{"&lt;script&gt;", "https://shadowmap.example/apps/evil"}, []string{"<script>"}, ""},
		{"text", []string{"preview", "--text"}, []string{"Subject: ", "<script>alert(1)</script>"}, []string{"<html"}, ""},
		{"a week without the app", []string{"preview", "--week", "2026-W40", "--text"}, []string{"Subject: "}, []string{"alert(1)"}, ""},
		{"bad week", []string{"preview", "--week", "2026-48"}, nil, nil, "YYYY-Www"},
		{"no subcommand", nil, nil, nil, "preview or send"},
		{"unknown subcommand", []string{"mail"}, nil, nil, "unknown subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, stdout, _ := commandEnv(t, config.SMTP{})
			err := Command(env).Run(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Run = %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := stdout.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestSendCommand(t *testing.T) {
	ts := startServer(t, serverOpts{tls: config.SMTPStartTLS, user: "digest", pass: "s3cret"})
	env, _, stderr := commandEnv(t, ts.cfg(config.SMTPStartTLS, "digest", "s3cret"))
	if err := Command(env).Run([]string{"send", "--to", "IT@example.com"}); err != nil {
		t.Fatal(err)
	}
	msgs := ts.messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "it@example.com" {
		t.Fatalf("messages = %+v", msgs)
	}
	p := parseMIME(t, msgs[0].Data)
	if !strings.Contains(p.Parts["text/html"], "&lt;script&gt;") || strings.Contains(p.Parts["text/html"], "<script>") {
		t.Error("the HTML part does not escape the app name")
	}
	if !strings.Contains(p.Parts["text/plain"], "https://shadowmap.example/apps/evil") {
		t.Errorf("the text part lacks the app's link:\n%s", p.Parts["text/plain"])
	}
	if !strings.Contains(stderr.String(), "digest sent to it@example.com") {
		t.Errorf("stderr = %q", stderr.String())
	}

	if err := Command(env).Run([]string{"send"}); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Errorf("send without --to = %v", err)
	}
	bad, _, _ := commandEnv(t, ts.cfg(config.SMTPStartTLS, "digest", "wrong"))
	if err := Command(bad).Run([]string{"send", "--to", "it@example.com"}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("send with a wrong password = %v", err)
	}
}
