package api

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file decodes what agents send. Every body is outside input: the
// decoders read a bounded number of bytes, reject unknown fields and
// trailing data, validate every field (validate.go) and never panic. A
// failure is either ErrTooLarge (answer 413: the agent splits or drops the
// upload), a *ValidationError (answer 400: the body is wrong and sending it
// again will not help), or, rarely, an I/O error reading the body.

// ErrTooLarge is wrapped by every error about a body, or a batch, that
// exceeds the limits in api.go.
var ErrTooLarge = errors.New("too large")

// ValidationError says what is wrong with a body. Its message is safe to
// send back to the agent and to log: it quotes a bounded piece of the
// offending value at most, and never a secret, a user name or an email.
type ValidationError struct {
	// Field is the JSON path of the offending value, as in
	// "sightings[3].day"; "" when the body as a whole is wrong.
	Field string
	Msg   string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// DecodeBatch reads a sightings upload. It reads at most MaxCompressedBytes
// of body as it arrives, gzipped or not (agents always gzip), and at most
// MaxBatchBytes of JSON after decompression; it checks every sighting
// against the collector's clock now (see ValidateBatch). An error wrapping
// ErrTooLarge means 413, a *ValidationError 400; anything else is an I/O
// error reading body (an *http.MaxBytesError from it counts as too large).
func DecodeBatch(body io.Reader, gzipped bool, now time.Time) (SightingsBatch, error) {
	in := newInput(body, MaxCompressedBytes)
	var r io.Reader = in.raw
	if gzipped {
		zr, err := gzip.NewReader(in.raw)
		if err != nil {
			return SightingsBatch{}, in.gzipHeaderError(err)
		}
		in.inflated = &cappedReader{r: zr, left: MaxBatchBytes}
		r = in.inflated
	}
	dec := json.NewDecoder(fullReader{r})
	dec.DisallowUnknownFields()
	b, err := decodeBatchObject(dec, in)
	if err != nil {
		return SightingsBatch{}, err
	}
	if err := in.expectEOF(dec); err != nil {
		return SightingsBatch{}, err
	}
	if err := ValidateBatch(b, now); err != nil {
		return SightingsBatch{}, err
	}
	return b, nil
}

// DecodeEnroll reads an enrollment request of at most MaxSmallBody bytes.
func DecodeEnroll(body io.Reader) (EnrollRequest, error) {
	var req EnrollRequest
	if err := decodeSmall(body, &req); err != nil {
		return EnrollRequest{}, err
	}
	if err := ValidateEnroll(req); err != nil {
		return EnrollRequest{}, err
	}
	return req, nil
}

// DecodeHeartbeat reads a heartbeat of at most MaxSmallBody bytes.
func DecodeHeartbeat(body io.Reader) (Heartbeat, error) {
	var hb Heartbeat
	if err := decodeSmall(body, &hb); err != nil {
		return Heartbeat{}, err
	}
	if err := ValidateHeartbeat(hb); err != nil {
		return Heartbeat{}, err
	}
	if len(hb.Interfaces) == 0 {
		hb.Interfaces = nil // "interfaces": [] and no list at all are the same
	}
	return hb, nil
}

// decodeSmall decodes one JSON object of at most MaxSmallBody bytes into v.
// Decoding through a pointer tells a JSON null, which would leave v
// untouched, from an object.
func decodeSmall[T any](body io.Reader, v *T) error {
	in := newInput(body, MaxSmallBody)
	dec := json.NewDecoder(fullReader{in.raw})
	dec.DisallowUnknownFields()
	p := v
	if err := dec.Decode(&p); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" && in.readerError() == nil {
			return &ValidationError{Msg: "must be a JSON object"}
		}
		return in.failFirst(err)
	}
	if p == nil {
		return &ValidationError{Msg: "must be a JSON object"}
	}
	return in.expectEOF(dec)
}

// wireSighting mirrors Sighting with its times as strings, so that a bad
// time is reported with its field name (time.Time's own decoding error
// does not say which field it was). A test keeps the two in step.
type wireSighting struct {
	App       string `json:"app"`
	Domain    string `json:"domain"`
	Tenant    string `json:"tenant"`
	Source    string `json:"source"`
	User      string `json:"user"`
	Day       string `json:"day"`
	Count     int64  `json:"count"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
}

// decodeBatchObject walks the batch object key by key rather than
// decoding it whole, so that the sightings array is counted as it is read:
// a body of four million bytes of "{}," would otherwise become a million
// sightings in memory before anyone counted them.
func decodeBatchObject(dec *json.Decoder, in *input) (SightingsBatch, error) {
	var b SightingsBatch
	tok, err := dec.Token()
	if err != nil {
		return b, in.failFirst(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return b, &ValidationError{Msg: "must be a JSON object"}
	}
	seen := make(map[string]bool, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return b, in.fail("", err)
		}
		key, _ := tok.(string) // the decoder only yields strings as keys
		if seen[key] {
			return b, &ValidationError{Field: fieldName(key), Msg: "appears twice"}
		}
		seen[key] = true
		switch key {
		case "batch_id":
			err = decodeValue(dec, in, key, &b.BatchID)
		case "agent_version":
			err = decodeValue(dec, in, key, &b.AgentVersion)
		case "sightings":
			b.Sightings, err = decodeSightings(dec, in)
		case "unknown_domains":
			b.UnknownDomains, err = decodeUnknownDomains(dec, in)
		default:
			err = &ValidationError{Field: fieldName(key), Msg: "unknown field"}
		}
		if err != nil {
			return b, err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return b, in.fail("", err)
	}
	return b, nil
}

func decodeValue(dec *json.Decoder, in *input, field string, v any) error {
	if err := dec.Decode(v); err != nil {
		return in.fail(field, err)
	}
	return nil
}

func decodeSightings(dec *json.Decoder, in *input) ([]Sighting, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, in.fail("sightings", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &ValidationError{Field: "sightings", Msg: "must be an array"}
	}
	var out []Sighting
	var buf wireSighting
	for dec.More() {
		if len(out) == MaxSightings {
			return nil, fmt.Errorf("%w: more than %d sightings in one batch", ErrTooLarge, MaxSightings)
		}
		buf = wireSighting{}
		w := &buf // a null sets w to nil
		if err := dec.Decode(&w); err != nil {
			return nil, in.fail(sightingField(len(out)), err)
		}
		if w == nil {
			return nil, &ValidationError{Field: sightingField(len(out)), Msg: "must be an object"}
		}
		s, err := w.sighting(len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, in.fail("sightings", err)
	}
	return out, nil
}

// decodeUnknownDomains reads the optional unknown_domains array, counting
// its entries as they come like decodeSightings does. A null is no array.
func decodeUnknownDomains(dec *json.Decoder, in *input) ([]UnknownDomain, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, in.fail("unknown_domains", err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &ValidationError{Field: "unknown_domains", Msg: "must be an array"}
	}
	var out []UnknownDomain
	for dec.More() {
		if len(out) == MaxUnknownDomains {
			return nil, fmt.Errorf("%w: more than %d unknown domains in one batch", ErrTooLarge, MaxUnknownDomains)
		}
		var u UnknownDomain
		p := &u // a null sets p to nil
		if err := dec.Decode(&p); err != nil {
			return nil, in.fail(unknownDomainField(len(out)), err)
		}
		if p == nil {
			return nil, &ValidationError{Field: unknownDomainField(len(out)), Msg: "must be an object"}
		}
		out = append(out, u)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, in.fail("unknown_domains", err)
	}
	return out, nil
}

// unknownDomainField is the JSON path of unknown domain i, built only for
// errors.
func unknownDomainField(i int) string { return "unknown_domains[" + strconv.Itoa(i) + "]" }

// sightingField is the JSON path of sighting i, built only for errors.
func sightingField(i int) string { return "sightings[" + strconv.Itoa(i) + "]" }

func (w *wireSighting) sighting(i int) (Sighting, error) {
	s := Sighting{
		App:    w.App,
		Domain: w.Domain,
		Tenant: w.Tenant,
		Source: w.Source,
		User:   w.User,
		Day:    w.Day,
		Count:  w.Count,
	}
	var ok bool
	if s.FirstSeen, ok = parseTime(w.FirstSeen); !ok {
		return Sighting{}, &ValidationError{Field: sightingField(i) + ".first_seen", Msg: quote(w.FirstSeen) + " is not an RFC 3339 time"}
	}
	if s.LastSeen, ok = parseTime(w.LastSeen); !ok {
		return Sighting{}, &ValidationError{Field: sightingField(i) + ".last_seen", Msg: quote(w.LastSeen) + " is not an RFC 3339 time"}
	}
	return s, nil
}

// parseTime reads an RFC 3339 time exactly as time.Time's JSON decoding
// does. An empty string stays the zero time, for validation to report.
func parseTime(s string) (time.Time, bool) {
	var t time.Time
	if s == "" {
		return t, true
	}
	return t, t.UnmarshalText([]byte(s)) == nil
}

// input is one body being read: the raw bytes and, for gzip, the inflated
// ones, each capped, with what went wrong at each layer so a decoding
// error can be traced to its cause.
type input struct {
	raw      *cappedReader
	inflated *cappedReader // nil unless gzipped
}

func newInput(body io.Reader, limit int64) *input {
	return &input{raw: &cappedReader{r: body, left: limit}}
}

// fail turns an error from the JSON decoder into the error DecodeX
// returns. The reader layers are asked first: a JSON error caused by a
// body that hit its cap, a broken connection or corrupt gzip is reported
// as that cause. field is the JSON path being decoded.
func (in *input) fail(field string, err error) error {
	if cause := in.readerError(); cause != nil {
		return cause
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &ValidationError{Msg: fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))}
	case errors.As(err, &typ):
		return &ValidationError{Field: joinField(field, typ.Field), Msg: fmt.Sprintf("got %s, want %s", cut(typ.Value), kindName(typ.Type))}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &ValidationError{Msg: "truncated JSON"}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			name = n
		}
		return &ValidationError{Field: joinField(field, fieldName(name)), Msg: "unknown field"}
	}
	// Some other complaint from the JSON decoder; its text names no
	// input beyond types and offsets.
	return &ValidationError{Field: field, Msg: strings.TrimPrefix(msg, "json: ")}
}

// readerError reports what went wrong below the JSON decoder, or nil.
func (in *input) readerError() error {
	if in.raw.over {
		return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, in.raw.limit())
	}
	if in.inflated != nil && in.inflated.over {
		return fmt.Errorf("%w: body over %d bytes after gzip", ErrTooLarge, in.inflated.limit())
	}
	if err := in.raw.err; err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// The handler capped the body tighter than we do.
			return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, mbe.Limit)
		}
		return fmt.Errorf("read body: %w", err)
	}
	if in.inflated != nil && in.inflated.err != nil {
		return &ValidationError{Msg: "body is not valid gzip: " + strings.TrimPrefix(in.inflated.err.Error(), "gzip: ")}
	}
	return nil
}

// gzipHeaderError explains why gzip.NewReader refused the body.
func (in *input) gzipHeaderError(err error) error {
	if cause := in.readerError(); cause != nil {
		return cause
	}
	if errors.Is(err, io.EOF) && in.raw.n == 0 {
		return &ValidationError{Msg: "body is empty"}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &ValidationError{Msg: "body is not valid gzip: " + strings.TrimPrefix(err.Error(), "gzip: ")}
}

// failFirst is fail for the first read of a body, where the end of input
// means there was nothing but whitespace.
func (in *input) failFirst(err error) error {
	if err == io.EOF && in.readerError() == nil {
		return &ValidationError{Msg: "body is empty"}
	}
	return in.fail("", err)
}

// expectEOF rejects anything but whitespace after the decoded value.
func (in *input) expectEOF(dec *json.Decoder) error {
	_, err := dec.Token()
	if err == io.EOF {
		if cause := in.readerError(); cause != nil {
			return cause
		}
		return nil
	}
	if cause := in.readerError(); cause != nil {
		return cause
	}
	return &ValidationError{Msg: "unexpected data after the JSON object"}
}

// fullReader fills each buffer it is given unless the input ends. The JSON
// decoder rescans the whitespace it has buffered after every read, so
// feeding it in the small pieces a socket or gzip yields makes a body of
// blanks cost time quadratic in its size; filling its doubling buffer
// keeps the cost linear.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := f.r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			break // a reader that returns nothing: let the caller retry
		}
	}
	return n, nil
}

// cappedReader reads at most left bytes from r and fails with ErrTooLarge
// past them, remembering that it did and the first other error r gave.
type cappedReader struct {
	r    io.Reader
	left int64
	n    int64 // bytes passed on
	over bool
	err  error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if n < 0 || n > len(p) {
		// A misbehaving reader must not make us index out of range.
		n, err = 0, io.ErrShortBuffer
	}
	if int64(n) > c.left {
		c.over = true
		n = int(c.left)
		c.n += int64(n)
		c.left = 0
		return n, ErrTooLarge
	}
	c.left -= int64(n)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

func (c *cappedReader) limit() int64 { return c.n + c.left }

// joinField appends a JSON decoder's field path to ours.
func joinField(prefix, field string) string {
	switch {
	case field == "":
		return prefix
	case prefix == "":
		return field
	}
	return prefix + "." + field
}

// fieldName returns a key fit for an error message: itself when short and
// plain, else quoted and cut.
func fieldName(key string) string {
	if len(key) > 0 && len(key) <= 40 {
		plain := true
		for i := 0; i < len(key); i++ {
			c := key[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				plain = false
				break
			}
		}
		if plain {
			return key
		}
	}
	return quote(key)
}

// quote quotes s for an error message, cut to a bounded length.
func quote(s string) string {
	if c := cut(s); len(c) < len(s) {
		return strconv.Quote(c) + "..."
	}
	return strconv.Quote(s)
}

// cut shortens s to at most 40 bytes on a rune boundary.
func cut(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// kindName names the JSON type a Go type is decoded from.
func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}
