package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// fixtureNow is the collector's clock for every fixture under testdata/.
var fixtureNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// fixtureResult runs a fixture through decode and renders the outcome as
// one line of a golden file.
func fixtureResult(name string, err error) string {
	switch {
	case err == nil:
		return name + ": ok\n"
	case errors.Is(err, ErrTooLarge):
		return fmt.Sprintf("%s: too large: %v\n", name, err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return fmt.Sprintf("%s: UNCLASSIFIED %T: %v\n", name, err, err)
	}
	return fmt.Sprintf("%s: invalid: %v\n", name, err)
}

// checkFixtures decodes every testdata/<dir>/*.json file, checks that the
// valid-* ones decode and the invalid-* ones do not, and compares every
// outcome with testdata/<dir>/results.golden.
func checkFixtures(t *testing.T, dir string, decode func(t *testing.T, name string, data []byte) error) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	var out strings.Builder
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		err = decode(t, name, data)
		switch {
		case strings.HasPrefix(name, "valid-") && err != nil:
			t.Errorf("%s: %v", name, err)
		case strings.HasPrefix(name, "invalid-") && err == nil:
			t.Errorf("%s: decoded without error", name)
		case !strings.HasPrefix(name, "valid-") && !strings.HasPrefix(name, "invalid-"):
			t.Errorf("%s: fixture names start with valid- or invalid-", name)
		}
		out.WriteString(fixtureResult(name, err))
	}
	golden.Check(t, filepath.Join("testdata", dir, "results.golden"), out.String())
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeBatchFixtures(t *testing.T) {
	checkFixtures(t, "batch", func(t *testing.T, name string, data []byte) error {
		b, err := DecodeBatch(bytes.NewReader(data), false, fixtureNow)
		// The same bytes gzipped must give the same answer.
		bz, errz := DecodeBatch(bytes.NewReader(gzipBytes(t, data)), true, fixtureNow)
		if fmt.Sprint(err) != fmt.Sprint(errz) || !reflect.DeepEqual(b, bz) {
			t.Errorf("%s: plain and gzipped differ:\n  plain: %v\n  gzip:  %v", name, err, errz)
		}
		if err == nil {
			checkBatchRoundTrip(t, b)
		}
		return err
	})
}

// checkBatchRoundTrip re-encodes a decoded batch and decodes it again:
// what the collector accepted, the client's encoding must reproduce.
func checkBatchRoundTrip(t *testing.T, b SightingsBatch) {
	t.Helper()
	body, err := encodeBatch(b)
	if err != nil {
		t.Fatalf("encode decoded batch: %v", err)
	}
	again, err := DecodeBatch(bytes.NewReader(body), true, fixtureNow)
	if err != nil {
		t.Fatalf("decode re-encoded batch: %v", err)
	}
	if !sameBatch(b, again) {
		t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, again)
	}
}

// sameBatch compares batches with times compared as instants.
func sameBatch(a, b SightingsBatch) bool {
	if a.BatchID != b.BatchID || a.AgentVersion != b.AgentVersion || len(a.Sightings) != len(b.Sightings) ||
		!slices.Equal(a.UnknownDomains, b.UnknownDomains) {
		return false
	}
	for i := range a.Sightings {
		x, y := a.Sightings[i], b.Sightings[i]
		if !x.FirstSeen.Equal(y.FirstSeen) || !x.LastSeen.Equal(y.LastSeen) {
			return false
		}
		x.FirstSeen, x.LastSeen, y.FirstSeen, y.LastSeen = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return true
}

func TestDecodeEnrollFixtures(t *testing.T) {
	checkFixtures(t, "enroll", func(t *testing.T, name string, data []byte) error {
		req, err := DecodeEnroll(bytes.NewReader(data))
		if err != nil {
			// The secret is never echoed, even a wrong one.
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error quotes the enroll secret: %v", name, err)
			}
			return err
		}
		var want EnrollRequest
		if err := json.Unmarshal(data, &want); err != nil || want != req {
			t.Errorf("%s: decoded %+v, want %+v (%v)", name, req, want, err)
		}
		return nil
	})
}

func TestDecodeHeartbeatFixtures(t *testing.T) {
	checkFixtures(t, "heartbeat", func(t *testing.T, name string, data []byte) error {
		hb, err := DecodeHeartbeat(bytes.NewReader(data))
		if err != nil {
			return err
		}
		var want Heartbeat
		if err := json.Unmarshal(data, &want); err != nil || !reflect.DeepEqual(want, hb) {
			t.Errorf("%s: decoded %+v, want %+v (%v)", name, hb, want, err)
		}
		return nil
	})
}

func TestDecodeBatchDecodesFields(t *testing.T) {
	data, err := os.ReadFile("testdata/batch/valid-basic.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeBatch(bytes.NewReader(data), false, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	want := SightingsBatch{
		BatchID:      "host-1:2025-06-15T11:00:00Z.42",
		AgentVersion: "0.3.0",
		Sightings: []Sighting{
			{App: "slack", Domain: "slack.com", Tenant: "acme", Source: "sni", User: "jdoe", Day: "2025-06-15", Count: 42,
				FirstSeen: time.Date(2025, 6, 15, 8, 1, 2, 0, time.UTC), LastSeen: time.Date(2025, 6, 15, 11, 59, 0, 0, time.UTC)},
			{App: "notion", Domain: "notion.so", Source: "dns", Day: "2025-05-12", Count: 1,
				FirstSeen: time.Date(2025, 5, 12, 23, 59, 59, 999e6, time.UTC), LastSeen: time.Date(2025, 5, 12, 23, 59, 59, 999e6, time.UTC)},
		},
	}
	if !sameBatch(b, want) {
		t.Fatalf("got %+v\nwant %+v", b, want)
	}
}

// batchOf builds a valid batch of n sightings.
func batchOf(n int) SightingsBatch {
	b := SightingsBatch{BatchID: "b-1", AgentVersion: "0.3.0", Sightings: make([]Sighting, n)}
	for i := range b.Sightings {
		b.Sightings[i] = Sighting{
			App: "slack", Domain: "slack.com", Tenant: fmt.Sprintf("t%d", i), Source: "sni", User: "jdoe",
			Day: "2025-06-15", Count: int64(i + 1),
			FirstSeen: time.Date(2025, 6, 15, 1, 0, 0, 0, time.UTC), LastSeen: time.Date(2025, 6, 15, 2, 0, 0, 0, time.UTC),
		}
	}
	return b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// countingReader is an endless body that counts what was read from it.
type countingReader struct {
	fill byte
	n    int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.fill
	}
	r.n += int64(len(p))
	return len(p), nil
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecodeBatchLimits(t *testing.T) {
	errBroken := errors.New("connection reset")
	valid := mustJSON(t, batchOf(3))
	padded := append(bytes.Repeat([]byte(" "), MaxCompressedBytes-len(valid)), valid...)
	bomb := gzipBytes(t, append(valid, bytes.Repeat([]byte(" "), MaxBatchBytes)...))
	bigButFits := mustJSON(t, batchOf(MaxSightings))
	tests := []struct {
		name     string
		body     io.Reader
		gzipped  bool
		tooLarge bool
		invalid  bool
		wantErr  error // matched with errors.Is when set
	}{
		{name: "exactly the raw cap", body: bytes.NewReader(padded)},
		{name: "one byte over the raw cap", body: bytes.NewReader(append([]byte(" "), padded...)), tooLarge: true},
		{name: "endless body", body: &countingReader{fill: ' '}, tooLarge: true},
		{name: "endless gzip body", body: &countingReader{fill: 0}, gzipped: true, invalid: true},
		{name: "gzip bomb", body: bytes.NewReader(bomb), gzipped: true, tooLarge: true},
		{name: "max sightings gzipped", body: bytes.NewReader(gzipBytes(t, bigButFits)), gzipped: true},
		{name: "one sighting too many", body: bytes.NewReader(gzipBytes(t, mustJSON(t, batchOf(MaxSightings+1)))), gzipped: true, tooLarge: true},
		{name: "too many empty sightings", body: strings.NewReader(`{"sightings":[` + strings.Repeat("{},", MaxSightings+10) + "{}]}"), tooLarge: true},
		{name: "plain body sent as gzip", body: bytes.NewReader(valid), gzipped: true, invalid: true},
		{name: "gzip sent as plain", body: bytes.NewReader(gzipBytes(t, valid)), invalid: true},
		{name: "truncated gzip", body: bytes.NewReader(gzipBytes(t, valid)[:40]), gzipped: true, invalid: true},
		{name: "gzip with trailing garbage", body: bytes.NewReader(append(gzipBytes(t, valid), "garbage"...)), gzipped: true, invalid: true},
		{name: "gzip with bad checksum", body: bytes.NewReader(corruptChecksum(gzipBytes(t, valid))), gzipped: true, invalid: true},
		{name: "two gzip members", body: io.MultiReader(bytes.NewReader(gzipBytes(t, valid[:20])), bytes.NewReader(gzipBytes(t, valid[20:]))), gzipped: true},
		{name: "empty gzip body", body: strings.NewReader(""), gzipped: true, invalid: true},
		{name: "body read fails", body: &failingReader{data: valid[:30], err: errBroken}, wantErr: errBroken},
		{name: "body read fails under gzip", body: &failingReader{data: gzipBytes(t, valid)[:30], err: errBroken}, gzipped: true, wantErr: errBroken},
		{name: "handler's MaxBytesReader", body: http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(valid)), 100), tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch(tt.body, tt.gzipped, fixtureNow)
			var ve *ValidationError
			switch {
			case tt.tooLarge:
				if !errors.Is(err, ErrTooLarge) || errors.As(err, &ve) {
					t.Fatalf("got %v, want ErrTooLarge", err)
				}
			case tt.invalid:
				if !errors.As(err, &ve) || errors.Is(err, ErrTooLarge) {
					t.Fatalf("got %v, want a *ValidationError", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || errors.As(err, &ve) || errors.Is(err, ErrTooLarge) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
			if cr, ok := tt.body.(*countingReader); ok && cr.n > MaxCompressedBytes+64<<10 {
				t.Errorf("read %d bytes of an endless body, cap is %d", cr.n, MaxCompressedBytes)
			}
		})
	}
}

// corruptChecksum flips a bit of a gzip stream's CRC-32 trailer.
func corruptChecksum(gz []byte) []byte {
	out := bytes.Clone(gz)
	out[len(out)-8] ^= 1
	return out
}

func TestDecodeSmallLimits(t *testing.T) {
	hb := mustJSON(t, Heartbeat{AgentVersion: "0.3.0", CaptureState: CaptureRunning})
	fits := append(hb, bytes.Repeat([]byte("\n"), MaxSmallBody-len(hb))...)
	if _, err := DecodeHeartbeat(bytes.NewReader(fits)); err != nil {
		t.Errorf("heartbeat of exactly MaxSmallBody bytes: %v", err)
	}
	if _, err := DecodeHeartbeat(bytes.NewReader(append(fits, '\n'))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("heartbeat one byte over MaxSmallBody: got %v, want ErrTooLarge", err)
	}
	body := &countingReader{fill: '['}
	if _, err := DecodeEnroll(body); !errors.Is(err, ErrTooLarge) && !isValidation(err) {
		t.Errorf("endless enroll body: %v", err)
	}
	if body.n > MaxSmallBody+64<<10 {
		t.Errorf("read %d bytes of an endless enroll body", body.n)
	}
}

func isValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

func TestValidationErrorShape(t *testing.T) {
	_, err := DecodeBatch(strings.NewReader(`{"batch_id":"b","agent_version":"1","sightings":[{"app":"Slack"}]}`), false, fixtureNow)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %T %v", err, err)
	}
	if ve.Field != "sightings[0].app" || !strings.Contains(ve.Msg, `"Slack"`) {
		t.Errorf("got field %q msg %q", ve.Field, ve.Msg)
	}
	if got := (&ValidationError{Msg: "body is empty"}).Error(); got != "body is empty" {
		t.Errorf("error without a field: %q", got)
	}
}

// TestErrorsDoNotEchoPeople checks that user names and emails stay out of
// error messages, which the collector logs and returns.
func TestErrorsDoNotEchoPeople(t *testing.T) {
	long := strings.Repeat("jdoe-private-", 20)
	b := batchOf(1)
	b.Sightings[0].User = long
	if err := ValidateBatch(b, fixtureNow); err == nil || strings.Contains(err.Error(), "jdoe") {
		t.Errorf("got %v", err)
	}
	e := EnrollRequest{EnrollSecret: "x", Hostname: "h", OS: OSLinux, AgentVersion: "1", OwnerEmail: "Jane Private <jane@acme.example>"}
	if err := ValidateEnroll(e); err == nil || strings.Contains(err.Error(), "jane") {
		t.Errorf("got %v", err)
	}
}

// TestWireSightingMirrorsSighting keeps the decoder's wire struct and the
// public Sighting in step: same JSON names, same order.
func TestWireSightingMirrorsSighting(t *testing.T) {
	names := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		return out
	}
	got, want := names(reflect.TypeFor[wireSighting]()), names(reflect.TypeFor[Sighting]())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("wireSighting fields %v, Sighting fields %v", got, want)
	}
}

func TestValidateBatchWindow(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name        string
		day         string
		first, last string
		ok          bool
	}{
		{"now", "2025-06-15", "2025-06-15T12:00:00Z", "2025-06-15T12:00:00Z", true},
		{"oldest instant", "2025-05-11", "2025-05-11T12:00:00Z", "2025-05-11T12:00:00Z", true},
		{"just too old", "2025-05-11", "2025-05-11T11:59:59Z", "2025-05-11T12:00:00Z", false},
		{"newest instant", "2025-06-16", "2025-06-16T12:00:00Z", "2025-06-16T12:00:00Z", true},
		{"just too new", "2025-06-16", "2025-06-16T12:00:00Z", "2025-06-16T12:00:00.000000001Z", false},
		{"local offset on the UTC day", "2025-06-15", "2025-06-15T01:00:00+01:00", "2025-06-15T08:00:00-03:00", true},
		{"local offset off the UTC day", "2025-06-15", "2025-06-15T00:30:00+01:00", "2025-06-15T08:00:00Z", false},
		{"last before first", "2025-06-15", "2025-06-15T08:00:00Z", "2025-06-15T07:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := batchOf(1)
			s := &b.Sightings[0]
			s.Day, s.FirstSeen, s.LastSeen = tt.day, at(tt.first), at(tt.last)
			if err := ValidateBatch(b, fixtureNow); (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := gzipBytes(b, mustJSON(b, batchOf(50)))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeBatch(bytes.NewReader(body), true, fixtureNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHeartbeat(b *testing.B) {
	body := mustJSON(b, Heartbeat{AgentVersion: "0.3.0", CaptureState: CaptureRunning, PacketsSeen: 1 << 40, Drops: 3, SpoolDepth: 2, User: "jdoe"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeHeartbeat(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBatchBlankBomb measures the worst body for the JSON
// decoder's buffering: a small gzip stream inflating to MaxBatchBytes of
// blanks after a valid batch. It must cost about as much as reading it.
func BenchmarkDecodeBatchBlankBomb(b *testing.B) {
	valid := mustJSON(b, batchOf(1))
	body := gzipBytes(b, append(valid, bytes.Repeat([]byte(" "), MaxBatchBytes-len(valid))...))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(bytes.NewReader(body), true, fixtureNow); err != nil {
			b.Fatal(err)
		}
	}
}
