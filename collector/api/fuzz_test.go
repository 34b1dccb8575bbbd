package api

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Agent bodies are outside input. These targets prove the decoders never
// panic, classify every failure as ErrTooLarge or *ValidationError (a
// bytes.Reader has no I/O errors), and only return what their validators
// accept and the client can send again unchanged. Seeds live in
// testdata/fuzz/<target>; the fixtures under testdata/ are added too.

// Fuzz modes for FuzzDecodeBatch.
const (
	fuzzPlain      = iota // the bytes as a plain JSON body
	fuzzAsGzip            // the bytes as a gzip stream
	fuzzCompressed        // the bytes compressed first: JSON behind gzip
	fuzzModes
)

func addFixtureSeeds(f *testing.F, dir string, add func(data []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

func checkClassified(t *testing.T, err error) {
	t.Helper()
	var ve *ValidationError
	isVE, isTL := errors.As(err, &ve), errors.Is(err, ErrTooLarge)
	if isVE == isTL {
		t.Fatalf("error is neither or both ErrTooLarge and *ValidationError: %T %v", err, err)
	}
	if isVE && ve.Msg == "" {
		t.Fatalf("validation error without a message: %+v", ve)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	addFixtureSeeds(f, "batch", func(data []byte) {
		f.Add(data, uint8(fuzzPlain))
		f.Add(data, uint8(fuzzCompressed))
		f.Add(gzipBytes(f, data), uint8(fuzzAsGzip))
	})
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		body, gzipped := data, false
		switch mode % fuzzModes {
		case fuzzAsGzip:
			gzipped = true
		case fuzzCompressed:
			body, gzipped = gzipBytes(t, data), true
		}
		b, err := DecodeBatch(bytes.NewReader(body), gzipped, fixtureNow)
		if mode%fuzzModes == fuzzCompressed && len(data) <= MaxCompressedBytes {
			// Behind gzip or not, the same JSON gets the same answer.
			plain, perr := DecodeBatch(bytes.NewReader(data), false, fixtureNow)
			if fmt.Sprint(err) != fmt.Sprint(perr) || (err == nil && !sameBatch(b, plain)) {
				t.Fatalf("gzipped: %v\nplain: %v", err, perr)
			}
		}
		if err != nil {
			checkClassified(t, err)
			return
		}
		if n, u := len(b.Sightings), len(b.UnknownDomains); n+u < 1 || n > MaxSightings || u > MaxUnknownDomains {
			t.Fatalf("decoded %d sightings and %d unknown domains", n, u)
		}
		if err := ValidateBatch(b, fixtureNow); err != nil {
			t.Fatalf("decoded a batch its validator refuses: %v", err)
		}
		checkBatchRoundTrip(t, b)
	})
}

func FuzzDecodeEnroll(f *testing.F) {
	addFixtureSeeds(f, "enroll", func(data []byte) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeEnroll(bytes.NewReader(data))
		if err != nil {
			checkClassified(t, err)
			return
		}
		if err := ValidateEnroll(req); err != nil {
			t.Fatalf("decoded a request its validator refuses: %v", err)
		}
		again, err := DecodeEnroll(bytes.NewReader(mustJSON(t, req)))
		if err != nil || again != req {
			t.Fatalf("round trip: %+v -> %+v, %v", req, again, err)
		}
	})
}

func FuzzDecodeHeartbeat(f *testing.F) {
	addFixtureSeeds(f, "heartbeat", func(data []byte) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		hb, err := DecodeHeartbeat(bytes.NewReader(data))
		if err != nil {
			checkClassified(t, err)
			return
		}
		if err := ValidateHeartbeat(hb); err != nil {
			t.Fatalf("decoded a heartbeat its validator refuses: %v", err)
		}
		again, err := DecodeHeartbeat(bytes.NewReader(mustJSON(t, hb)))
		if err != nil || !reflect.DeepEqual(again, hb) {
			t.Fatalf("round trip: %+v -> %+v, %v", hb, again, err)
		}
	})
}
