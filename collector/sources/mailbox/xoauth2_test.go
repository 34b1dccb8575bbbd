package mailbox

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
)

func TestXOAUTH2InitialResponse(t *testing.T) {
	c := &xoauth2Client{user: "ap@example.com", token: "ya29.abc"}
	mech, ir, err := c.Start()
	if err != nil || mech != "XOAUTH2" {
		t.Fatalf("Start = %q, %v", mech, err)
	}
	if want := "user=ap@example.com\x01auth=Bearer ya29.abc\x01\x01"; string(ir) != want {
		t.Errorf("initial response %q, want %q", ir, want)
	}
	resp, err := c.Next([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	if err != nil || resp == nil || len(resp) != 0 {
		t.Errorf("answer to the error challenge = %q, %v; want an empty response", resp, err)
	}
	if c.failure == nil || c.failure.Status != "401" {
		t.Errorf("failure %+v", c.failure)
	}
}

func TestXOAUTH2ErrorMessages(t *testing.T) {
	tests := []struct {
		challenge string
		want      string
	}{
		{`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`, "the token is invalid or expired (status 401): get a fresh access token; it needs the scope https://mail.google.com/"},
		{`{"status":400,"schemes":"bearer"}`, "the server could not read the token (status 400)"},
		{`{"status":"403","scope":"https://outlook.office.com/IMAP.AccessAsUser.All"}`, "the token lacks the mail scope (status 403); it needs the scope https://outlook.office.com/IMAP.AccessAsUser.All"},
		{`{"status":"500"}`, "the server refused the token (status 500)"},
		{`{}`, "the server refused the token"},
		{`{"status":"401","status":"400"}`, "the server could not read the token (status 400)"}, // duplicate keys: the last wins
		{"AUTHENTICATE failed.", "the server said AUTHENTICATE failed."},
		{"bad\x00\x1b[31mred", "the server said bad[31mred"},
	}
	for _, tt := range tests {
		if got := parseXOAUTH2Error([]byte(tt.challenge)).String(); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.challenge, got, tt.want)
		}
	}
	long := strings.Repeat("é", 500)
	if got := parseXOAUTH2Error([]byte(long)).Raw; len(got) > maxChallengeText+len("…") || !utf8.ValidString(got) {
		t.Errorf("a long challenge kept as %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

// FuzzXOAUTH2Error feeds any server challenge to the decoder: it must not
// panic, and what it says must be short, valid text without control
// characters.
func FuzzXOAUTH2Error(f *testing.F) {
	f.Add([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	f.Add([]byte(`{"status":400}`))
	f.Add([]byte(`{"status":["x"],"scope":{"a":1}}`))
	f.Add([]byte("\xff\xfe not json"))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, challenge []byte) {
		msg := parseXOAUTH2Error(challenge).String()
		if !utf8.ValidString(msg) {
			t.Errorf("invalid UTF-8: %q", msg)
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("control characters: %q", msg)
		}
		if len(msg) > 4*maxChallengeText+200 {
			t.Errorf("message of %d bytes", len(msg))
		}
	})
}

func TestHeaderOf(t *testing.T) {
	fields := []byte("Message-ID: <a@b>\r\nFrom: =?utf-8?q?Caf=C3=A9_Vendor?= <billing@cafe.example>\r\nTo: ap@example.com\r\nSubject: =?iso-8859-1?q?Rechnung_f=FCr_November?=\r\nDate: Mon, 02 Nov 2026 10:00:00 +0100\r\nList-Unsubscribe: <mailto:u@x>\r\n\r\n")
	h := headerOf(fields, nil)
	if h.MessageID != "<a@b>" || h.From != "Café Vendor <billing@cafe.example>" || h.Subject != "Rechnung für November" || h.ListUnsubscribe != "<mailto:u@x>" || h.To != "ap@example.com" {
		t.Errorf("header %+v", h)
	}
	if h.Date.Format("2006-01-02T15:04Z07:00") != "2026-11-02T09:00Z" {
		t.Errorf("date %v, want UTC", h.Date)
	}
	// Fields the server left out or garbled come from the envelope.
	env := &imap.Envelope{MessageID: "x@y", Subject: "Your receipt", From: []imap.Address{{Name: "Vercel Inc.", Mailbox: "invoice+statements", Host: "vercel.com"}}, To: []imap.Address{{Mailbox: "ap", Host: "example.com"}}}
	h = headerOf([]byte("garbage without a colon\r\n\r\n"), env)
	if h.MessageID != "<x@y>" || h.From != "Vercel Inc. <invoice+statements@vercel.com>" || h.To != "ap@example.com" || h.Subject != "Your receipt" {
		t.Errorf("header from envelope %+v", h)
	}
}

// FuzzHeaderOf feeds any header bytes (what a server returns for
// BODY.PEEK[HEADER.FIELDS ...]) to the header reader: no panic, bounded
// valid text.
func FuzzHeaderOf(f *testing.F) {
	f.Add([]byte("From: Vercel <invoice+statements@vercel.com>\r\nSubject: Your receipt from Vercel Inc. #1\r\n\r\n"))
	f.Add([]byte("Subject: =?iso-2022-jp?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\nDate: bogus\r\n\r\n"))
	f.Add([]byte("From: =?utf-7?Q?+AKM-?= <a@b>\r\n folded\r\n\r\n"))
	f.Add([]byte("\x00\xff: \r\n\r\n"))
	f.Fuzz(func(t *testing.T, fields []byte) {
		h := headerOf(fields, nil)
		for _, v := range []string{h.MessageID, h.From, h.ReplyTo, h.To, h.Subject, h.ListUnsubscribe} {
			if !utf8.ValidString(v) || len(v) > maxHeaderValue {
				t.Errorf("value %q", v)
			}
		}
	})
}

func TestReasonKey(t *testing.T) {
	for in, want := range map[string]string{
		"message larger than 10485760 bytes": "too_large",
		"unreadable: bad base64 at byte 12":  "unreadable",
		"internal error: index out of range": "internal error",
		"":                                   "unreadable",
		"no boundary":                        "no boundary",
		"too_large":                          "too_large",
	} {
		if got := reasonKey(in); got != want {
			t.Errorf("reasonKey(%q) = %q, want %q", in, got, want)
		}
	}
}
