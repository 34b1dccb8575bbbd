package api

import (
	"strings"
	"testing"
)

func TestRegistrableDomain(t *testing.T) {
	tests := []struct {
		name string
		want string // "" when the name must not be counted
	}{
		{"www.example.com", "example.com"},
		{"example.com", "example.com"},
		{"a.b.c.example.com.", "example.com"},
		{"WWW.Example.COM", "example.com"},
		{"news.bbc.co.uk", "bbc.co.uk"},
		{"alice.github.io", "alice.github.io"}, // a private-section suffix: each site is its own domain
		{"xn--bcher-kva.de", "xn--bcher-kva.de"},
		{"_dmarc.example.org", "example.org"},
		{"co.uk", ""},
		{"github.io", ""},
		{"com", ""},
		{"intranet", ""},
		{"printer.local", ""},
		{"nas.lan", ""},
		{"router.home.arpa", ""},
		{"1.0.168.192.in-addr.arpa", ""},
		{"b.a.9.8.ip6.arpa", ""},
		{"git.corp", ""},
		{"vault.internal", ""},
		{"wiki.acme.intranet", ""},
		{"acme.notatld", ""},
		{"localhost", ""},
		{"my.localhost", ""},
		{"10.0.0.1", ""},
		{"::1", ""},
		{"fe80::1%en0", ""},
		{"", ""},
		{".", ""},
		{"..example.com", "example.com"},
		{"example..com", ""},
		{"-bad.com", ""},
		{"under_score.com", ""},
		{"bücher.de", ""},
		{"sp ace.com", ""},
		{strings.Repeat("a", 64) + ".com", ""},
		{strings.Repeat("a.", 130) + "com", ""},
	}
	for _, tt := range tests {
		got, ok := RegistrableDomain(tt.name)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("RegistrableDomain(%q) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
		if ok && !isRegistrable(got) {
			t.Errorf("RegistrableDomain(%q) = %q, which isRegistrable refuses", tt.name, got)
		}
	}
}

func TestRegistrableDomainAllocations(t *testing.T) {
	// The public suffix lookup parses the name as an IP address first and
	// that error allocates once; the agent caches reductions so a name it
	// has seen costs nothing. This test pins the figure so a change shows.
	for _, n := range []string{"www.example.com", "printer.local", "10.0.0.1"} {
		allocs := testing.AllocsPerRun(100, func() { RegistrableDomain(n) })
		if allocs > 1 {
			t.Errorf("RegistrableDomain(%q) allocates %.0f times", n, allocs)
		}
	}
}

func FuzzRegistrableDomain(f *testing.F) {
	for _, s := range []string{"www.example.com", "news.bbc.co.uk.", "router.home.arpa", "10.0.0.1", "co.uk", "A.B.github.io", "x..y.com", "xn--bcher-kva.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, ok := RegistrableDomain(name)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", name, got)
			}
			return
		}
		if !isRegistrable(got) {
			t.Fatalf("RegistrableDomain(%q) = %q, which is not registrable", name, got)
		}
		lower := strings.ToLower(strings.TrimSuffix(name, "."))
		if lower != got && !strings.HasSuffix(lower, "."+got) {
			t.Fatalf("RegistrableDomain(%q) = %q, not a suffix of the name", name, got)
		}
	})
}
