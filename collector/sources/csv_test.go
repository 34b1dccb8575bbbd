package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf16"
)

// utf16LE encodes s as UTF-16 little endian with a BOM, as Excel's
// "Unicode text" and some admin consoles save.
func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func utf16BE(s string) []byte {
	out := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// readAll reads every row's app and user columns as "app|user" lines.
func readAll(t *testing.T, data []byte) []string {
	t.Helper()
	c, err := NewCSV(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewCSV: %v", err)
	}
	if err := c.Require([]string{"App name", "application"}, []string{"User", "Email"}); err != nil {
		t.Fatalf("Require: %v", err)
	}
	var out []string
	for {
		r, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, r.Get("App name", "application")+"|"+r.Get("User", "Email"))
	}
}

func TestCSVEncodingsAndColumnOrder(t *testing.T) {
	const plain = "App name,User,Scopes\r\nCafé Planner,ann@example.com,drive\r\nSlack,bob@example.com,\r\n"
	want := []string{"Café Planner|ann@example.com", "Slack|bob@example.com"}
	tests := []struct {
		name string
		data []byte
	}{
		{"utf-8", []byte(plain)},
		{"utf-8 with BOM", append([]byte{0xEF, 0xBB, 0xBF}, plain...)},
		{"utf-16le with BOM", utf16LE(plain)},
		{"utf-16be with BOM", utf16BE(plain)},
		{"windows-1252", []byte("App name,User,Scopes\r\nCaf\xe9 Planner,ann@example.com,drive\r\nSlack,bob@example.com,\r\n")},
		{"other column order and names", []byte("Email,Scopes,Application\nann@example.com,drive,Café Planner\nbob@example.com,,Slack\n")},
		{"lf line ends, spaces around", []byte("  user ,APP_NAME\nann@example.com , Café Planner \nbob@example.com,Slack\n")},
		{"no final line end", []byte("App name,User\nCafé Planner,ann@example.com\nSlack,bob@example.com")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.data)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rows\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestCSVQuotesAndShortRows(t *testing.T) {
	data := "App name,User,Scopes,Extra\n" +
		"\"Acme, Inc. \"\"Portal\"\"\",ann@example.com,\"a b\nc\",x\n" + // comma, quotes, newline
		"Short,bob@example.com\n" + // short row
		"Bare \"quote,carol@example.com,s,x\n" + // a lazy quote
		"Long,dave@example.com,s,x,more,fields\n"
	c, err := NewCSV(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ app, user, scopes, missing string }
	want := []row{
		{`Acme, Inc. "Portal"`, "ann@example.com", "a b\nc", ""},
		{"Short", "bob@example.com", "", ""},
		{`Bare "quote`, "carol@example.com", "s", ""},
		{"Long", "dave@example.com", "s", ""},
	}
	wantLines := []int{2, 4, 5, 6}
	for i, w := range want {
		r, err := c.Next()
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		got := row{r.Get("app name"), r.Get("user"), r.Get("scopes"), r.Get("no such column")}
		if got != w {
			t.Errorf("row %d = %q, want %q", i, got, w)
		}
		if r.Line != wantLines[i] {
			t.Errorf("row %d: line %d, want %d", i, r.Line, wantLines[i])
		}
	}
	if _, err := c.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last row: %v, want io.EOF", err)
	}
}

func TestCSVHeaderAndRequire(t *testing.T) {
	c, err := NewCSV(strings.NewReader("Event Name,Date,User\nauthorize,2026-11-01,ann@example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Event Name", "event_name", "EventName", "event-name", "EVENT.NAME"} {
		if !c.Has(name) {
			t.Errorf("Has(%q) = false", name)
		}
	}
	if c.Has("client id") {
		t.Error("Has(client id) = true")
	}
	if err := c.Require([]string{"Date"}, []string{"User", "Email"}); err != nil {
		t.Errorf("Require of present columns: %v", err)
	}
	err = c.Require([]string{"Client ID", "client_id"}, []string{"Date"}, []string{"Scopes", "scope"})
	want := `csv: missing column "Client ID", "Scopes" (the header has eventname, date, user)`
	if err == nil || err.Error() != want {
		t.Errorf("Require = %v\nwant %s", err, want)
	}
}

func TestCSVDuplicateColumnTakesTheFirst(t *testing.T) {
	c, err := NewCSV(strings.NewReader("user,User,app\nfirst@example.com,second@example.com,Slack\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Get("user"); got != "first@example.com" {
		t.Errorf("Get(user) = %q", got)
	}
}

func TestCSVEmptyAndHeaderOnly(t *testing.T) {
	for _, data := range []string{"", "\xEF\xBB\xBF", "\xFF\xFE"} {
		if _, err := NewCSV(strings.NewReader(data)); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("NewCSV(%q) = %v, want an empty-file error", data, err)
		}
	}
	c, err := NewCSV(strings.NewReader("a,b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next on a header-only file = %v", err)
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte("plain"), "plain"},
		{[]byte("\xEF\xBB\xBFbom"), "bom"},
		{utf16LE("Zoë"), "Zoë"},
		{utf16BE("Zoë"), "Zoë"},
		{[]byte("na\xefve \x80 \x93quoted\x94"), "naïve € “quoted”"},
	}
	for _, tt := range tests {
		got, err := DecodeText(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("DecodeText(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzCSV feeds any bytes to the export reader: it must never panic, and
// whatever it reads back must be valid text.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("App name,User\nSlack,ann@example.com\n"))
	f.Add([]byte("\xEF\xBB\xBFa,b\n\"x,\"\"y\",z\n"))
	f.Add(utf16LE("Event Name,User\nauthorize,ann@example.com\n"))
	f.Add([]byte("a\nCaf\xe9\n"))
	f.Add([]byte("\xFF\xFE\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := NewCSV(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = c.Require([]string{"App name"}, []string{"User", "Email"})
		for range 10000 {
			r, err := c.Next()
			if err != nil {
				return
			}
			for _, name := range []string{"app name", "user", "email", ""} {
				_ = r.Get(name)
			}
		}
	})
}

// TestNewCSVText checks that NewCSVText reads text as NewCSV reads the
// same text, BOMs and all.
func TestNewCSVText(t *testing.T) {
	for _, text := range []string{
		"App name,User\nSlack,ann@example.com\n",
		"\uFEFFa,b\n\"x,\"\"y\",z\n",
		"\uFEFF\uFEFFa,b\n1,2\n",
		"a\nCaf\xe9\n",
		"",
	} {
		read := func(c *CSV, err error) string {
			if err != nil {
				return "error: " + err.Error()
			}
			out := strings.Join(c.header, "|")
			for {
				r, err := c.Next()
				if err != nil {
					return out
				}
				out += fmt.Sprintf("\n%d:%q", r.Line, r.fields)
			}
		}
		want := read(NewCSV(strings.NewReader(text)))
		if got := read(NewCSVText(text)); got != want {
			t.Errorf("NewCSVText(%q):\n%s\nwant (NewCSV)\n%s", text, got, want)
		}
	}
}
