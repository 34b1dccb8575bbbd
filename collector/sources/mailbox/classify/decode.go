package classify

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/net/html"
	"golang.org/x/text/encoding/charmap"
)

// decodeTransfer undoes a Content-Transfer-Encoding leniently: broken
// base64 keeps what decoded before the break, broken quoted-printable
// keeps a bad escape as text. corrupt reports a break.
func decodeTransfer(enc string, body []byte) (data []byte, corrupt bool) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return decodeBase64(body)
	case "quoted-printable":
		return decodeQP(body), false
	}
	return body, false
}

// decodeBase64 decodes up to the first byte outside the base64 alphabet
// (line breaks and spaces aside) or the padding: what follows a break is
// misaligned noise.
func decodeBase64(body []byte) ([]byte, bool) {
	clean := make([]byte, 0, len(body))
	corrupt := false
scan:
	for _, c := range body {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '\r', c == '\n', c == ' ', c == '\t':
		case c == '=':
			break scan
		default:
			corrupt = true
			break scan
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n], corrupt
}

// decodeQP decodes quoted-printable, keeping a malformed escape as the
// literal text it is.
func decodeQP(body []byte) []byte {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		rest := body[i+1:]
		switch {
		case bytes.HasPrefix(rest, []byte("\r\n")):
			i += 2
		case bytes.HasPrefix(rest, []byte("\n")):
			i++
		case len(rest) >= 2 && isHex(rest[0]) && isHex(rest[1]):
			out = append(out, unhex(rest[0])<<4|unhex(rest[1]))
			i += 2
		default:
			// A soft break followed by trailing spaces, or a stray '='.
			j := 0
			for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
				j++
			}
			if j < len(rest) && (rest[j] == '\n' || rest[j] == '\r') {
				i += j
				if rest[j] == '\r' && j+1 < len(rest) && rest[j+1] == '\n' {
					i++
				}
				i++
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// toUTF8 converts s from its declared charset to UTF-8. An unknown or
// missing charset is read as UTF-8 when the bytes are valid UTF-8 and as
// Windows-1252 otherwise (what most mislabelled Western mail is).
func toUTF8(s, cs string) string {
	if isUTF7(cs) {
		return decodeUTF7(s)
	}
	cs = normCharset(cs)
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
	default:
		if singleByte(cs) && utf8.ValidString(s) {
			// Mislabelled UTF-8 is common ("windows-1252" on a UTF-8
			// body), and Latin text in a single-byte charset almost
			// never forms valid multi-byte UTF-8 by chance.
			return c1AsWindows1252(s)
		}
		if strings.Contains(cs, "gb2312") || strings.Contains(cs, "eucgb") || cs == "euc-cn" || cs == "x-gbk" {
			cs = "gbk" // a superset, under a name the index knows
		}
		if r, err := charset.Reader(cs, strings.NewReader(s)); err == nil {
			if b, err := io.ReadAll(r); err == nil || len(b) > 0 {
				return strings.ToValidUTF8(string(b), "\uFFFD")
			}
		}
	}
	if utf8.ValidString(s) {
		return s
	}
	if b, err := charmap.Windows1252.NewDecoder().String(s); err == nil {
		return b
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// c1AsWindows1252 reads C1 control characters, which no text uses, as
// the Windows-1252 bytes they were before a careless conversion (U+0080
// is the euro sign 0x80), as browsers do for Latin-1 labels.
func c1AsWindows1252(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && r <= 0x9f }) {
		return s
	}
	dec := charmap.Windows1252.DecodeByte
	return strings.Map(func(r rune) rune {
		if r >= 0x80 && r <= 0x9f {
			return dec(byte(r))
		}
		return r
	}, s)
}

// isUTF7 reports whether a charset label names UTF-7.
func isUTF7(cs string) bool {
	switch normCharset(cs) {
	case "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7":
		return true
	}
	return false
}

// normCharset is a charset label as the lookups compare it: lowercase,
// unquoted, trimmed.
func normCharset(cs string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`))
}

// singleByte reports whether cs is a Western single-byte charset.
func singleByte(cs string) bool {
	return strings.HasPrefix(cs, "windows-125") || strings.HasPrefix(cs, "cp125") || strings.HasPrefix(cs, "iso-8859") ||
		strings.HasPrefix(cs, "iso8859") || cs == "latin1" || cs == "latin-1" || cs == "us-ascii"
}

// charsetReader lets mime.WordDecoder read every charset bodies can,
// UTF-7 included.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if err != nil {
		return nil, err
	}
	return strings.NewReader(toUTF8(string(b), cs)), nil
}

// decodeUTF7 decodes RFC 2152 UTF-7, which golang.org/x/text does not
// carry. Malformed shifted sequences are kept as the text they are.
func decodeUTF7(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '+' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(s) && isBase64Char(s[j]) {
			j++
		}
		if j == i+1 {
			// "+-" is a literal plus; a lone '+' is kept.
			b.WriteByte('+')
			if j < len(s) && s[j] == '-' {
				i = j
			}
			continue
		}
		raw := []byte(s[i+1 : j])
		if len(raw)%4 == 1 {
			raw = raw[:len(raw)-1]
		}
		dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(raw)))
		n, _ := base64.RawStdEncoding.Decode(dec, raw)
		dec = dec[:n]
		units := make([]uint16, 0, len(dec)/2)
		for k := 0; k+1 < len(dec); k += 2 {
			units = append(units, uint16(dec[k])<<8|uint16(dec[k+1]))
		}
		b.WriteString(string(utf16.Decode(units)))
		i = j - 1
		if j < len(s) && s[j] == '-' {
			i = j // the '-' ends the shift and is absorbed
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// htmlToText turns an HTML body into lines of text: scripts and styles
// dropped, block elements and table rows on lines of their own, table
// cells separated by a tab so "Total" and its amount stay on one line.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return b.String()
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			switch tag {
			case "script", "style", "head", "title", "noscript", "template":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			case "td", "th":
				if tt == html.StartTagToken {
					b.WriteByte('\t')
				}
			case "br", "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "header", "footer", "ul", "ol", "blockquote", "pre", "center":
				b.WriteByte('\n')
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			text := strings.Join(strings.Fields(strings.ReplaceAll(string(z.Text()), "\u00a0", " ")), " ")
			if text == "" {
				continue
			}
			if b.Len() > 0 {
				last := b.String()[b.Len()-1]
				if last != '\n' && last != '\t' && last != ' ' {
					b.WriteByte(' ')
				}
			}
			b.WriteString(text)
		}
		if b.Len() > maxTextBytes {
			return b.String() // the caller truncates to the cap
		}
	}
}
