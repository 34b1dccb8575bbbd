package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeFile: whatever bytes a configuration file holds, decoding
// never panics, every problem says something, and what decodes cleanly
// can be validated.
func FuzzDecodeFile(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/bad/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := unresolvedDefault()
		problems := decodeFile(data, "fuzz.yaml", &cfg)
		for _, p := range problems {
			if strings.TrimSpace(p.Msg) == "" || p.Line < 0 {
				t.Fatalf("empty or unplaced problem %+v for %q", p, data)
			}
		}
		if len(problems) > maxProblems+1 {
			t.Fatalf("%d problems, want at most %d", len(problems), maxProblems+1)
		}
		if len(problems) == 0 {
			// Validate reads the TLS files: not whatever path the fuzzer
			// made up.
			cfg.TLS = TLS{}
			cfg.resolve()
			_ = cfg.Validate()
		}
	})
}

// FuzzParsePeriod: a period that parses writes itself back to the same
// span.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"90d", "13mo", "2w", "1y", "36h", "1h30m", "", "90", "-1d", "1e9d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			return
		}
		again, err := ParsePeriod(p.String())
		if err != nil {
			t.Fatalf("ParsePeriod(%q) = %v, whose String does not parse: %v", s, p, err)
		}
		ref := referenceTime()
		if again.Cutoff(ref) != p.Cutoff(ref) {
			t.Fatalf("ParsePeriod(%q) = %v, read back as %v", s, p, again)
		}
	})
}
