package classify

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
)

// Limits on what one message may cost. A message over them is skipped
// with a reason rather than half-read: a huge or pathological message is
// not a SaaS receipt.
const (
	defaultMaxBytes = 10 << 20
	maxDepth        = 20
	maxParts        = 200
	// maxTextBytes caps the text the extractors scan: receipts put their
	// totals near the top, and regular expressions over megabytes of
	// text would let one message stall an import.
	maxTextBytes = 64 << 10
	// maxHeaderText caps a decoded header: RFC 5322 lines stop at 998
	// bytes, and a subject longer than that is no vendor's.
	maxHeaderText = 998
)

// message is one parsed message: its headers and its readable text.
type message struct {
	messageID string
	from      string
	replyTo   string
	to        string
	subject   string
	date      time.Time
	listUnsub string

	// plain and html are the text/plain and text/html parts, decoded
	// to UTF-8, in the order they appear.
	plain []string
	html  []string
	parts int
	// corrupt is set when a part's transfer encoding broke off.
	corrupt bool

	textCache string
	textDone  bool
	// skipped is why the message could not be read; "" when it was.
	skipped string
}

// The walk's errors: each skips the message with its text as the reason.
var (
	errNoBoundary      = errors.New("multipart body without a boundary parameter: it cannot be split")
	errBoundaryMissing = errors.New("the MIME boundary never occurs in the body")
	errCharset         = errors.New("unsupported charset")
	errTooDeep         = fmt.Errorf("MIME nesting deeper than %d levels", maxDepth)
	errTooMany         = fmt.Errorf("more than %d MIME parts", maxParts)
)

// parse reads raw (already capped by the caller) into a message. It never
// fails: what cannot be read is recorded in skipped.
func parse(raw []byte, now func() time.Time) *message {
	m := &message{}
	br := bufio.NewReader(bytes.NewReader(raw))
	h, err := textproto.ReadHeader(br)
	if err != nil && h.Len() == 0 {
		m.messageID = rawHash(raw)
		m.skipped = "unreadable header: " + shortErr(err)
		return m
	}
	if h.Len() == 0 {
		m.messageID = rawHash(raw)
		m.skipped = "not a message: no header fields"
		return m
	}
	m.readHeaders(&h, raw, now)
	if err != nil {
		// The header ended badly (no blank line, a broken field): what
		// was read is kept, the body is whatever follows.
		m.skipped = "unreadable header: " + shortErr(err)
		return m
	}
	body, _ := io.ReadAll(br)
	if werr := m.walk(h, body, 0); werr != nil {
		m.skipped = werr.Error()
		return m
	}
	if text := m.text(); len(m.plain)+len(m.html) > 0 && (!readable(text) || m.corrupt && !hasLetters(text)) {
		m.skipped = "no readable text: the body does not decode (corrupt transfer encoding or charset)"
	}
	return m
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// rawHash is the stand-in Message-ID of a message that has none: the same
// bytes always give the same key, so a re-read stores nothing twice.
func rawHash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes RFC 2047 encoded words, keeping the raw text when
// a word cannot be decoded.
func decodeHeader(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=?") {
		return toUTF8(s, "")
	}
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return toUTF8(d, "utf-8")
	}
	return toUTF8(s, "")
}

func (m *message) readHeaders(h *textproto.Header, raw []byte, now func() time.Time) {
	m.messageID = strings.TrimSpace(strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>"))
	if m.messageID == "" || strings.ContainsAny(m.messageID, " \t\r\n") {
		m.messageID = rawHash(raw)
	}
	m.from = truncate(decodeHeader(h.Get("From")), maxHeaderText)
	m.replyTo = truncate(decodeHeader(h.Get("Reply-To")), maxHeaderText)
	m.subject = truncate(strings.Join(strings.Fields(decodeHeader(h.Get("Subject"))), " "), maxHeaderText)
	m.listUnsub = strings.TrimSpace(h.Get("List-Unsubscribe"))
	m.to = firstAddress(truncate(decodeHeader(h.Get("To")), maxHeaderText))
	if m.to == "" {
		m.to = firstAddress(h.Get("Delivered-To"))
	}
	if d, err := netmail.ParseDate(strings.TrimSpace(h.Get("Date"))); err == nil {
		m.date = d.UTC()
	} else if d, ok := receivedDate(h); ok {
		m.date = d
	} else if now != nil {
		m.date = now().UTC()
	}
}

// receivedDate is the date of the newest Received header: the best guess
// for a message whose Date header is missing or broken.
func receivedDate(h *textproto.Header) (time.Time, bool) {
	for _, v := range h.Values("Received") {
		if i := strings.LastIndexByte(v, ';'); i >= 0 {
			if d, err := netmail.ParseDate(strings.TrimSpace(v[i+1:])); err == nil {
				return d.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// firstAddress is the first address of an address list, lowercase.
func firstAddress(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if l, err := netmail.ParseAddressList(s); err == nil && len(l) > 0 {
		return strings.ToLower(l[0].Address)
	}
	addr, _ := splitFrom(s)
	return addr
}

// splitFrom splits a From header into a lowercase address and a display
// name, tolerating headers net/mail rejects.
func splitFrom(from string) (addr, display string) {
	from = strings.TrimSpace(from)
	if from == "" {
		return "", ""
	}
	if a, err := netmail.ParseAddress(from); err == nil {
		return strings.ToLower(a.Address), a.Name
	}
	if lt := strings.LastIndexByte(from, '<'); lt >= 0 {
		rest := from[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			rest = rest[:gt]
		}
		return strings.ToLower(strings.TrimSpace(rest)), strings.Trim(strings.TrimSpace(from[:lt]), `" `)
	}
	if i := strings.IndexByte(from, ','); i >= 0 {
		from = from[:i]
	}
	if strings.Contains(from, "@") && !strings.ContainsAny(from, " \t") {
		return strings.ToLower(from), ""
	}
	return "", from
}

// walk collects the text parts of an entity. Broken multipart bodies keep
// the parts read before the break; a multipart body with no readable part
// (a missing or wrong boundary) is read as text, so its words still count.
func (m *message) walk(h textproto.Header, body []byte, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	m.parts++
	if m.parts > maxParts {
		return errTooMany
	}
	mediaType, params := contentType(h.Get("Content-Type"))
	disposition, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			return errNoBoundary
		}
		mr := textproto.NewMultipartReader(bytes.NewReader(body), boundary)
		read := 0
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			pb, rerr := io.ReadAll(p)
			read++
			if werr := m.walk(p.Header, pb, depth+1); werr != nil {
				return werr
			}
			if rerr != nil {
				break
			}
		}
		if read == 0 {
			return fmt.Errorf("%w: %q", errBoundaryMissing, boundary)
		}
		return nil
	case mediaType == "message/rfc822" || mediaType == "message/global":
		// A forwarded message: its text is the forwarder's evidence too.
		inner, _ := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
		br := bufio.NewReader(bytes.NewReader(inner))
		innerHeader, err := textproto.ReadHeader(br)
		if err != nil {
			return nil
		}
		rest, _ := io.ReadAll(br)
		return m.walk(innerHeader, rest, depth+1)
	case disposition == "attachment":
		// Attachments (PDF invoices, TNEF) are not read: only the text
		// the vendor put in the message itself.
		return nil
	case mediaType == "text/plain", mediaType == "text/html":
		return m.addText(mediaType, h, body)
	}
	// Everything else (application/ms-tnef, images, calendars) is skipped.
	return nil
}

// contentType parses a Content-Type leniently: a header mime rejects
// still yields its media type and a boundary when one is visible. A
// missing one is text/plain (RFC 2045 section 5.2).
func contentType(v string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "text/plain", map[string]string{}
	}
	if mt, params, err := mime.ParseMediaType(v); err == nil {
		return mt, params
	}
	// A broken parameter (mime returns none then) or a broken type:
	// pick the type and the parameters that matter by hand.
	mt := strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
	params := map[string]string{}
	lower := lowerASCII(v) // same length as v, so its indexes fit v
	for _, key := range []string{"boundary", "charset"} {
		if i := strings.Index(lower, key+"="); i >= 0 {
			val := v[i+len(key)+1:]
			if strings.HasPrefix(val, `"`) {
				val = val[1:]
				if j := strings.IndexByte(val, '"'); j >= 0 {
					val = val[:j]
				}
			} else if j := strings.IndexAny(val, "; \t"); j >= 0 {
				val = val[:j]
			}
			params[key] = val
		}
	}
	return mt, params
}

func (m *message) addText(mediaType string, h textproto.Header, body []byte) error {
	_, params := contentType(h.Get("Content-Type"))
	if isUTF7(params["charset"]) {
		// UTF-7 hides markup from filters and no mail client offers to
		// write it: mail that uses it is not a vendor's receipt.
		return fmt.Errorf("%w %q", errCharset, params["charset"])
	}
	data, corrupt := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	m.corrupt = m.corrupt || corrupt
	text := toUTF8(string(data), params["charset"])
	if mediaType == "text/html" {
		m.html = append(m.html, text)
	} else {
		m.plain = append(m.plain, text)
	}
	return nil
}

func hasLetters(s string) bool {
	return strings.ContainsFunc(s, unicode.IsLetter)
}

// readable reports whether decoded text is mostly text: a body whose
// base64 is corrupt from the start decodes to binary noise.
func readable(s string) bool {
	total, bad := 0, 0
	for _, r := range s {
		total++
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r >= 0x7f && r < 0xa0 {
			bad++
		}
	}
	return total == 0 || bad*10 < total
}

// text is the message's readable text: the plain parts when there are
// any with words in them, else the HTML parts turned into text.
func (m *message) text() string {
	if m.textDone {
		return m.textCache
	}
	m.textCache, m.textDone = m.buildText(), true
	return m.textCache
}

func (m *message) buildText() string {
	var b strings.Builder
	for _, p := range m.plain {
		if strings.TrimSpace(p) != "" && !looksLikeHTML(p) {
			b.WriteString(p)
			b.WriteByte('\n')
		}
	}
	if strings.TrimSpace(b.String()) == "" {
		b.Reset()
		for _, p := range m.plain {
			b.WriteString(htmlToText(p))
			b.WriteByte('\n')
		}
		for _, p := range m.html {
			b.WriteString(htmlToText(p))
			b.WriteByte('\n')
		}
	}
	return truncate(b.String(), maxTextBytes)
}

// looksLikeHTML catches HTML sent as text/plain, which some senders do.
func looksLikeHTML(s string) bool {
	head := strings.ToLower(strings.TrimSpace(s))
	if len(head) > 512 {
		head = head[:512]
	}
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

// lowerASCII lowercases ASCII letters only, keeping every byte where it
// was: strings.ToLower can change the length of invalid UTF-8.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
