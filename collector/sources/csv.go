package sources

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// MaxFileBytes caps a file an admin imports: exports of half a year of
// events are tens of megabytes.
const MaxFileBytes = 512 << 20

// CSV reads an export file whose columns are found by name, whatever
// their order, in whichever encoding the admin console or a spreadsheet
// saved it: UTF-8 with or without a BOM, UTF-16 with a BOM, or
// Windows-1252 when the bytes are not UTF-8.
type CSV struct {
	r       *csv.Reader
	columns map[string]int
	header  []string
	line    int
}

// NewCSV reads the header row of the export in r.
func NewCSV(r io.Reader) (*CSV, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read csv: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("csv larger than %d bytes", MaxFileBytes)
	}
	text, err := DecodeText(data)
	if err != nil {
		return nil, fmt.Errorf("read csv: %w", err)
	}
	return newCSV(text)
}

// NewCSVText is NewCSV for an export already read and turned into text
// by DecodeText: an importer that looks at a big file more than once
// spares it another copy and decode each time.
func NewCSVText(text string) (*CSV, error) {
	if !utf8.ValidString(text) {
		return NewCSV(strings.NewReader(text))
	}
	if len(text) > MaxFileBytes {
		return nil, fmt.Errorf("csv larger than %d bytes", MaxFileBytes)
	}
	// What DecodeText does to valid UTF-8: drop one BOM.
	return newCSV(strings.TrimPrefix(text, "\uFEFF"))
}

func newCSV(text string) (*CSV, error) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1 // a short row is checked by Get, not refused whole
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("read csv: the file is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("read csv header: %w", err)
	}
	c := &CSV{r: cr, columns: map[string]int{}, line: 1}
	for i, h := range header {
		name := NormalizeColumn(h)
		c.header = append(c.header, name)
		if _, dup := c.columns[name]; !dup {
			c.columns[name] = i
		}
	}
	return c, nil
}

// NormalizeColumn is how column names compare: lowercase, with spaces,
// dashes, dots and underscores dropped ("Client ID", "client_id" and
// "clientId" are one column).
func NormalizeColumn(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '(', ')', '/':
			return -1
		}
		return r
	}, h)
}

// Has reports whether one of the names is a column.
func (c *CSV) Has(names ...string) bool {
	_, ok := c.index(names)
	return ok
}

func (c *CSV) index(names []string) (int, bool) {
	for _, n := range names {
		if i, ok := c.columns[NormalizeColumn(n)]; ok {
			return i, true
		}
	}
	return 0, false
}

// Require returns an error naming the first missing column of each
// group: each group lists the names one column goes by.
func (c *CSV) Require(groups ...[]string) error {
	var missing []string
	for _, g := range groups {
		if !c.Has(g...) {
			missing = append(missing, fmt.Sprintf("%q", g[0]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("csv: missing column %s (the header has %s)", strings.Join(missing, ", "), strings.Join(c.header, ", "))
	}
	return nil
}

// Row is one record of the file.
type Row struct {
	c      *CSV
	fields []string
	// Line is the line the record starts on (the header is line 1).
	Line int
}

// Next reads the next record; io.EOF at the end.
func (c *CSV) Next() (Row, error) {
	rec, err := c.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		return Row{}, fmt.Errorf("csv: %w", err)
	}
	// The line the record starts on, not a count of records: a quoted
	// field may hold line breaks, and IT looks the line up in the file.
	c.line, _ = c.r.FieldPos(0)
	return Row{c: c, fields: rec, Line: c.line}, nil
}

// Get returns the value of the first of names that is a column, trimmed;
// "" when none is or the row is short.
func (r Row) Get(names ...string) string {
	i, ok := r.c.index(names)
	if !ok || i >= len(r.fields) {
		return ""
	}
	return strings.TrimSpace(r.fields[i])
}

// DecodeText turns an exported file's bytes into a string: a BOM says
// UTF-8 or UTF-16; bytes that are valid UTF-8 are taken as is; anything
// else is read as Windows-1252, which is what spreadsheets on Windows
// save.
func DecodeText(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		out, _, err := transform.Bytes(unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder(), data)
		if err != nil {
			return "", fmt.Errorf("decode UTF-16: %w", err)
		}
		return string(out), nil
	}
	if utf8.Valid(data) {
		return string(data), nil
	}
	out, _, err := transform.Bytes(charmap.Windows1252.NewDecoder(), data)
	if err != nil {
		return "", fmt.Errorf("decode Windows-1252: %w", err)
	}
	return string(out), nil
}
