package config

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	credentials := "enroll_secrets: [{name: a, secret: " + secretA + "}]\nadmin_tokens: [{name: it, token: " + tokenA + "}]\n"
	tests := []struct {
		name string
		file string // after the credentials
		env  []string
		want []string // the prefixes, when valid
		bad  string   // part of the error, when not
		warn string   // part of a warning
	}{
		{name: "default trusts none", want: nil},
		{name: "CIDRs", file: `trusted_proxies: ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]`,
			want: []string{"127.0.0.1/32", "10.0.0.0/8", "fd00::/8"},
			warn: "trusted_proxies has 10.0.0.0/8, a range wider than a proxy needs"},
		{name: "narrow ranges pass quietly", file: `trusted_proxies: ["10.1.2.0/24", "2001:db8:1:2::/64"]`,
			want: []string{"10.1.2.0/24", "2001:db8:1:2::/64"}},
		{name: "wide IPv6 warned about", file: `trusted_proxies: ["2001:db8::/48"]`, want: []string{"2001:db8::/48"},
			warn: "trusted_proxies has 2001:db8::/48, a range wider"},
		{name: "bare addresses", file: "trusted_proxies:\n  - 192.0.2.7\n  - 2001:db8::7\n",
			want: []string{"192.0.2.7/32", "2001:db8::7/128"}},
		{name: "variable", env: []string{"SHADOWMAP_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16"},
			want: []string{"10.0.0.0/8", "192.168.0.0/16"}, warn: "wider than a proxy needs"},
		{name: "variable over the file", file: `trusted_proxies: ["10.0.0.0/8"]`, env: []string{"SHADOWMAP_TRUSTED_PROXIES=172.16.0.0/12"},
			want: []string{"172.16.0.0/12"}, warn: "wider than a proxy needs"},
		{name: "not a list", file: `trusted_proxies: 10.0.0.0/8`, bad: "trusted_proxies: want a list"},
		{name: "not an address", file: `trusted_proxies: ["proxy.internal"]`,
			bad: `shadowmap.yaml:3): want a CIDR such as 10.0.0.0/8`},
		{name: "bad CIDR", file: `trusted_proxies: ["10.0.0.0/8", "10.0.0/8"]`, bad: `trusted_proxies[1] "10.0.0/8"`},
		{name: "bits too many", file: `trusted_proxies: ["10.0.0.0/33"]`, bad: `trusted_proxies[0] "10.0.0.0/33"`},
		{name: "host bits set", file: `trusted_proxies: ["10.1.2.3/8"]`, bad: "has bits set after the first 8: did you mean 10.0.0.0/8?"},
		{name: "empty entry", file: `trusted_proxies: [""]`, bad: `trusted_proxies[0] ""`},
		{name: "empty entry says so", file: `trusted_proxies: [" "]`, bad: `: empty: want a CIDR`},
		{name: "zone", file: `trusted_proxies: ["fe80::1%eth0"]`, bad: "leave the zone out"},
		{name: "IPv4-mapped", file: `trusted_proxies: ["::ffff:10.0.0.0/104"]`, bad: "write it as IPv4 (10.0.0.0/8)"},
		{name: "bad variable", env: []string{"SHADOWMAP_TRUSTED_PROXIES=10.0.0.0/8,nope"},
			bad: `trusted_proxies[1] "nope" (from SHADOWMAP_TRUSTED_PROXIES)`},
		{name: "everyone warned about", file: `trusted_proxies: ["0.0.0.0/0"]`, want: []string{"0.0.0.0/0"},
			warn: "trusted_proxies has 0.0.0.0/0: every client is trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "shadowmap.yaml", credentials+tt.file+"\n", 0o600)
			cfg, err := Load(path, tt.env, nil)
			if tt.bad != "" {
				var ve *ValidationError
				var fe *FileError
				if err == nil || !(errors.As(err, &ve) || errors.As(err, &fe)) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("Load() = %v, want an error containing %q", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(): %v", err)
			}
			var got []string
			for _, p := range cfg.TrustedProxyPrefixes() {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("TrustedProxyPrefixes() = %q, want %q", got, tt.want)
			}
			if tt.warn != "" && !hasWarning(cfg, tt.warn) {
				t.Errorf("warnings %q lack %q", cfg.Warnings, tt.warn)
			}
			if tt.warn == "" && hasWarning(cfg, "trusted_proxies") {
				t.Errorf("unexpected warning: %q", cfg.Warnings)
			}
		})
	}
}

// TestTrustedProxyPrefixesMatchPeers checks that the prefixes contain the
// unmapped addresses the web view compares them with.
func TestTrustedProxyPrefixesMatchPeers(t *testing.T) {
	c := Default()
	c.TrustedProxies = []string{"10.0.0.0/8", "::1"}
	prefixes := c.TrustedProxyPrefixes()
	for _, peer := range []string{"10.20.30.40", "::1"} {
		a := netip.MustParseAddr(peer)
		if !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) }) {
			t.Errorf("%s is in none of %v", peer, prefixes)
		}
	}
}
