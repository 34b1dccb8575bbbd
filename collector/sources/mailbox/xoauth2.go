package mailbox

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// xoauth2Client is the XOAUTH2 SASL mechanism Gmail and Microsoft 365
// speak: the initial response carries the user and the bearer token; on
// failure the server sends one challenge, a JSON error, which the client
// must answer with an empty response before the server says NO. The
// decoded error is kept so the importer can say what the server disliked.
type xoauth2Client struct {
	user, token string
	// failure is the server's error challenge, when one came.
	failure *xoauth2Error
}

var _ sasl.Client = (*xoauth2Client)(nil)

func (c *xoauth2Client) Start() (mech string, ir []byte, err error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	e := parseXOAUTH2Error(challenge)
	c.failure = &e
	// The empty response ends the exchange; the server then answers NO.
	return []byte{}, nil
}

// xoauth2Error is the JSON a server sends when it refuses a token:
// {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}.
type xoauth2Error struct {
	Status  string
	Schemes string
	Scope   string
	// Raw is the challenge when it was not that JSON (kept short).
	Raw string
}

// maxChallengeText bounds what of a server's challenge reaches a message.
const maxChallengeText = 200

// parseXOAUTH2Error reads a server's error challenge. Servers differ: the
// status may be a string or a number, and some send text, not JSON. It
// never fails: what it cannot read is kept as Raw.
func parseXOAUTH2Error(challenge []byte) xoauth2Error {
	var fields map[string]any
	if err := json.Unmarshal(challenge, &fields); err != nil {
		return xoauth2Error{Raw: printable(string(challenge), maxChallengeText)}
	}
	str := func(k string) string {
		switch v := fields[k].(type) {
		case string:
			return printable(v, maxChallengeText)
		case float64:
			return fmt.Sprint(v)
		}
		return ""
	}
	return xoauth2Error{Status: str("status"), Schemes: str("schemes"), Scope: str("scope")}
}

// String says what the server's error means, for IT.
func (e xoauth2Error) String() string {
	if e.Raw != "" {
		return "the server said " + e.Raw
	}
	var what string
	switch e.Status {
	case "400":
		what = "the server could not read the token (status 400)"
	case "401":
		what = "the token is invalid or expired (status 401): get a fresh access token"
	case "403":
		what = "the token lacks the mail scope (status 403)"
	case "":
		what = "the server refused the token"
	default:
		what = "the server refused the token (status " + e.Status + ")"
	}
	if e.Scope != "" {
		what += "; it needs the scope " + e.Scope
	}
	return what
}

// printable keeps s to at most n bytes of printable text, so a hostile
// server cannot fill a log line with control characters.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
		// Do not end inside a UTF-8 sequence.
		s = strings.ToValidUTF8(s, "")
		s += "…"
	}
	return s
}
