package mailbox

import (
	"bufio"
	"bytes"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/charset"

	"github.com/shadowmap/shadowmap/collector/sources/mailbox/classify"
)

// maxHeaderValue bounds one header value the importer keeps: a From or
// Subject of megabytes is an attack, not a sender.
const maxHeaderValue = 2000

// headerOf builds what the classifier sees before the body from the
// fetched header fields (raw bytes from the server, untrusted), falling
// back to the ENVELOPE for what the fields lack or garble. It never fails.
func headerOf(fields []byte, env *imap.Envelope) classify.Header {
	var h classify.Header
	if len(fields) > 0 {
		r := textproto.NewReader(bufio.NewReader(bytes.NewReader(fields)))
		// A header with a bad line is kept up to that line.
		mh, _ := r.ReadMIMEHeader()
		dec := &mime.WordDecoder{CharsetReader: charset.Reader}
		get := func(k string) string {
			v := strings.TrimSpace(mh.Get(k))
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
			return clean(v)
		}
		h.MessageID = get("Message-Id")
		h.From = get("From")
		h.ReplyTo = get("Reply-To")
		h.To = get("To")
		h.Subject = get("Subject")
		h.ListUnsubscribe = get("List-Unsubscribe")
		if d, err := mail.ParseDate(mh.Get("Date")); err == nil {
			h.Date = d
		}
	}
	if env != nil {
		if h.MessageID == "" {
			h.MessageID = clean(env.MessageID)
			if h.MessageID != "" && !strings.HasPrefix(h.MessageID, "<") {
				h.MessageID = "<" + h.MessageID + ">"
			}
		}
		if h.From == "" {
			h.From = formatAddresses(env.From)
		}
		if h.ReplyTo == "" {
			h.ReplyTo = formatAddresses(env.ReplyTo)
		}
		if h.To == "" {
			h.To = formatAddresses(env.To)
		}
		if h.Subject == "" {
			h.Subject = clean(env.Subject)
		}
		if h.Date.IsZero() {
			h.Date = env.Date
		}
	}
	// UTC also turns a zero date in any zone into time.Time{}.
	h.Date = h.Date.UTC()
	return h
}

// formatAddresses writes envelope addresses as a header would.
func formatAddresses(addrs []imap.Address) string {
	var parts []string
	for _, a := range addrs {
		addr := a.Addr()
		if addr == "" {
			continue // group markers
		}
		if name := clean(a.Name); name != "" {
			addr = name + " <" + addr + ">"
		}
		parts = append(parts, addr)
	}
	return clean(strings.Join(parts, ", "))
}

// clean drops control characters and invalid UTF-8 and bounds the length.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	if len(s) > maxHeaderValue {
		s = strings.ToValidUTF8(s[:maxHeaderValue], "")
	}
	return strings.TrimSpace(s)
}
