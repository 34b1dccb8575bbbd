package dnsconfig

import (
	"net/netip"
	"slices"
	"testing"
)

// Seeds for every target are committed under testdata/fuzz/<Target>/.

func FuzzResolvConf(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := ParseResolvConf(raw)
		out, err := RenderResolvConf(raw, local)
		if err != nil {
			return
		}
		after := ParseResolvConf(out)
		var want []string
		want = append(want, local.String())
		for _, a := range validServers(before.Nameservers, local) {
			want = append(want, a.String())
		}
		var got []string
		for _, s := range after.Nameservers {
			a, _ := netip.ParseAddr(s)
			got = append(got, a.String())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("nameservers after rendering %q, want %q", got, want)
		}
		if !slices.Contains(after.Options, "timeout:1") || slices.Contains(after.Options, "rotate") {
			t.Fatalf("options after rendering %q", after.Options)
		}
	})
}

func FuzzScutilDNS(f *testing.F) {
	f.Fuzz(func(t *testing.T, out []byte) {
		r := ParseScutilDNS(out)
		for _, s := range r.Nameservers {
			if _, err := netip.ParseAddr(s); err != nil {
				t.Fatalf("kept %q: %v", s, err)
			}
		}
	})
}

func FuzzNetworkSetup(f *testing.F) {
	f.Fuzz(func(t *testing.T, out []byte) {
		for _, svc := range ParseServiceOrder(out) {
			if svc.Name == "" {
				t.Fatal("service without a name")
			}
		}
		for _, s := range append(ParseDNSServers(out), ParseDHCPPacket(out)...) {
			if _, err := netip.ParseAddr(s); err != nil {
				t.Fatalf("kept %q: %v", s, err)
			}
		}
	})
}

func FuzzDNSClientJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, out []byte) {
		entries, err := ParseDNSClientJSON(out)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if _, err := interfaceIndex(e.ID); err != nil || seen[e.ID] {
				t.Fatalf("entry id %q: %v (duplicate %v)", e.ID, err, seen[e.ID])
			}
			seen[e.ID] = true
			for _, s := range append(slices.Clone(e.Servers), e.DHCP...) {
				if _, err := netip.ParseAddr(s); err != nil {
					t.Fatalf("kept %q", s)
				}
			}
		}
	})
}
