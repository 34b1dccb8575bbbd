package okta

import (
	"net/http"
	"strings"
)

// Link is one link-value of an RFC 8288 Link header.
type Link struct {
	URL string
	// Rels are the link's relation types, lowercased ("next", "self").
	Rels []string
}

// maxLinks bounds how many link-values are read from one response, so a
// hostile header costs little.
const maxLinks = 64

// ParseLinks reads every link-value of the Link header fields in values:
// `<url>; rel="next", <url>; rel=self`. Commas and semicolons inside the
// <URL> or a quoted parameter do not split; link-values it cannot read
// are skipped.
func ParseLinks(values []string) []Link {
	var links []Link
	for _, v := range values {
		for len(v) > 0 && len(links) < maxLinks {
			var l Link
			var ok bool
			l, v, ok = parseLinkValue(v)
			if ok {
				links = append(links, l)
			}
		}
	}
	return links
}

// NextLink returns the URL of the link with relation "next", "" when
// there is none.
func NextLink(h http.Header) string {
	for _, l := range ParseLinks(h.Values("Link")) {
		for _, r := range l.Rels {
			if r == "next" {
				return l.URL
			}
		}
	}
	return ""
}

// parseLinkValue reads one link-value from the start of s and returns it
// and the rest after its separating comma. ok is false for a value that
// is not a link (no <URL>); the rest then starts after the next comma
// outside quotes, so one bad value does not hide the others.
func parseLinkValue(s string) (l Link, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t,")
	if s == "" {
		return Link{}, "", false
	}
	if s[0] != '<' {
		return Link{}, skipToComma(s), false
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return Link{}, "", false
	}
	l.URL = strings.TrimSpace(s[1:end])
	s = s[end+1:]
	// Parameters: ; name[=value], value a token or a quoted string.
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return l, "", l.URL != ""
		}
		if s[0] == ',' {
			return l, s[1:], l.URL != ""
		}
		if s[0] != ';' {
			// Junk after the URL: drop this value.
			return Link{}, skipToComma(s), false
		}
		s = strings.TrimLeft(s[1:], " \t")
		i := strings.IndexAny(s, "=;,")
		if i < 0 {
			return l, "", l.URL != "" // a last, bare parameter name
		}
		name := strings.ToLower(strings.TrimSpace(s[:i]))
		if s[i] != '=' {
			s = s[i:]
			continue
		}
		s = strings.TrimLeft(s[i+1:], " \t")
		var value string
		value, s = paramValue(s)
		if name == "rel" && l.Rels == nil {
			// RFC 8288 3.3: only the first rel counts; it may hold
			// several space-separated types.
			l.Rels = strings.Fields(strings.ToLower(value))
			if l.Rels == nil {
				l.Rels = []string{}
			}
		}
	}
}

// paramValue reads a token or a quoted string (with \ escapes) at the
// start of s.
func paramValue(s string) (value, rest string) {
	if s == "" || s[0] != '"' {
		i := strings.IndexAny(s, ";,")
		if i < 0 {
			return strings.TrimSpace(s), ""
		}
		return strings.TrimSpace(s[:i]), s[i:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), "" // an unclosed quote runs to the end
}

// skipToComma returns what follows the first comma outside quotes and
// angle brackets.
func skipToComma(s string) string {
	quoted, bracket := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"' && !bracket:
			quoted = !quoted
		case c == '<' && !quoted:
			bracket = true
		case c == '>' && !quoted:
			bracket = false
		case c == ',' && !quoted && !bracket:
			return s[i+1:]
		}
	}
	return ""
}
