package signatures

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// benchNames reads testdata/bench/names.txt: SaaS names (prefixed "saas ")
// and everything else a laptop resolves.
func benchNames(tb testing.TB) (names []string, saas map[string]bool) {
	tb.Helper()
	f, err := os.Open("testdata/bench/names.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	saas = make(map[string]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if n, ok := strings.CutPrefix(line, "saas "); ok {
			saas[n] = true
			line = n
		}
		names = append(names, line)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return names, saas
}

func embeddedCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	c, err := Embedded()
	if err != nil {
		tb.Fatalf("embedded catalog: %v", err)
	}
	return c
}

// TestBenchNamesMix keeps the benchmark honest: the names marked SaaS
// match an app in the embedded catalog, the rest do not, and the mix is
// about 30% SaaS.
func TestBenchNamesMix(t *testing.T) {
	c := embeddedCatalog(t)
	names, saas := benchNames(t)
	for _, n := range names {
		m := c.MatchDomain(n)
		if saas[n] && !m.CountsAsUse() {
			t.Errorf("%s is marked SaaS but matches %+v", n, m)
		}
		if !saas[n] && m.App != nil {
			t.Errorf("%s is marked non-SaaS but matches app %s", n, m.App.ID)
		}
	}
	if share := float64(len(saas)) / float64(len(names)); share < 0.25 || share > 0.35 {
		t.Errorf("SaaS share is %.2f, want about 0.30", share)
	}
}

// BenchmarkMatchDomain measures the agent's hot path over the realistic
// mix with the full embedded catalog. Goal: <= 100 ns/op, 0 allocs/op on
// one core (make bench).
func BenchmarkMatchDomain(b *testing.B) {
	c := embeddedCatalog(b)
	names, _ := benchNames(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.MatchDomain(names[i%len(names)])
	}
}

// BenchmarkLoadEmbedded measures start-up: parsing and indexing the whole
// catalog, which the agent does once.
func BenchmarkLoadEmbedded(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Embedded(); err != nil {
			b.Fatal(err)
		}
	}
}
