package digest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector/config"
)

var testMessage = Message{
	Subject: "Shadow IT at Acme, week 48: 2 new apps, 1 outside the IdP — ünïcode",
	Text:    "2 new apps this week\n\n<script>alert(1)</script> (3 people)\nhttps://shadowmap.example/apps/notion\n",
	HTML:    `<html><body><h1>2 new apps</h1><a href="https://shadowmap.example/apps/notion">&lt;script&gt;alert(1)&lt;/script&gt;</a></body></html>`,
}

// parsed is a delivered digest read back as a mail client would.
type parsed struct {
	Subject, From, To string
	Parts             map[string]string // content type -> decoded body
}

func parseMIME(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	p := parsed{Subject: subject, From: msg.Header.Get("From"), To: msg.Header.Get("To"), Parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		p.Parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	return p
}

func TestSend(t *testing.T) {
	tests := []struct {
		name       string
		server     serverOpts
		mode       string
		user, pass string
	}{
		{"starttls with auth", serverOpts{tls: config.SMTPStartTLS, user: "digest", pass: "s3cret"}, config.SMTPStartTLS, "digest", "s3cret"},
		{"implicit tls with auth", serverOpts{tls: config.SMTPImplicit, user: "digest", pass: "s3cret"}, config.SMTPImplicit, "digest", "s3cret"},
		{"starttls without auth", serverOpts{tls: config.SMTPStartTLS}, config.SMTPStartTLS, "", ""},
		{"no tls on loopback with auth", serverOpts{tls: config.SMTPNoTLS, user: "digest", pass: "s3cret"}, config.SMTPNoTLS, "digest", "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.server)
			to := []string{"it@example.com", "cio@example.com"}
			if err := Send(t.Context(), ts.cfg(tc.mode, tc.user, tc.pass), "Shadowmap <shadowmap@example.com>", to, testMessage); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := ts.messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages, want 1", len(msgs))
			}
			if msgs[0].From != "shadowmap@example.com" || strings.Join(msgs[0].To, ",") != strings.Join(to, ",") {
				t.Errorf("envelope = %s -> %v", msgs[0].From, msgs[0].To)
			}
			p := parseMIME(t, msgs[0].Data)
			if p.Subject != testMessage.Subject {
				t.Errorf("subject = %q, want %q", p.Subject, testMessage.Subject)
			}
			if !strings.Contains(p.From, "shadowmap@example.com") {
				t.Errorf("From = %q", p.From)
			}
			if got := p.Parts["text/plain"]; got != testMessage.Text {
				t.Errorf("text part = %q, want %q", got, testMessage.Text)
			}
			if got := p.Parts["text/html"]; got != testMessage.HTML {
				t.Errorf("html part = %q, want %q", got, testMessage.HTML)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	// A port that was just closed refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	tests := []struct {
		name   string
		server serverOpts
		cfg    func(ts *testServer) config.SMTP
		kind   ErrorKind
		hint   string
	}{
		{"wrong password", serverOpts{tls: config.SMTPStartTLS, user: "digest", pass: "s3cret"},
			func(ts *testServer) config.SMTP { return ts.cfg(config.SMTPStartTLS, "digest", "wrong") },
			ErrAuth, "check digest.smtp.username and password"},
		{"implicit tls against a plain port", serverOpts{tls: config.SMTPStartTLS},
			func(ts *testServer) config.SMTP { return ts.cfg(config.SMTPImplicit, "", "") },
			ErrTLS, "does not speak implicit TLS"},
		{"starttls against a server without it", serverOpts{tls: config.SMTPNoTLS},
			func(ts *testServer) config.SMTP { return ts.cfg(config.SMTPStartTLS, "", "") },
			ErrTLS, "does not offer STARTTLS"},
		{"untrusted certificate", serverOpts{tls: config.SMTPStartTLS},
			func(ts *testServer) config.SMTP {
				c := ts.cfg(config.SMTPStartTLS, "", "")
				c.CAFile = ""
				return c
			},
			ErrTLS, "not trusted"},
		{"connection refused", serverOpts{tls: config.SMTPNoTLS},
			func(ts *testServer) config.SMTP {
				c := ts.cfg(config.SMTPNoTLS, "", "")
				c.Port = closedPort
				return c
			},
			ErrConnect, "connection refused"},
		{"temporary refusal", serverOpts{tls: config.SMTPNoTLS, refuse: 1},
			func(ts *testServer) config.SMTP { return ts.cfg(config.SMTPNoTLS, "", "") },
			ErrRejected, "refused the message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.server)
			err := Send(t.Context(), tc.cfg(ts), "shadowmap@example.com", []string{"it@example.com"}, testMessage)
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want a *SendError", err)
			}
			if se.Kind != tc.kind || !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("Send = %v (kind %s), want kind %s mentioning %q", err, se.Kind, tc.kind, tc.hint)
			}
			if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
			if len(ts.messages()) != 0 {
				t.Error("a message arrived despite the error")
			}
		})
	}
}
