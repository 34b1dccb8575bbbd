package dnsconfig

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestReconcile(t *testing.T) {
	wifiDHCP := Entry{ID: "Wi-Fi", Device: "en0", Servers: []string{"192.168.1.1"}, DHCP: []string{"192.168.1.1"}}
	wifiOurs := Entry{ID: "Wi-Fi", Device: "en0", Manual: true, Servers: []string{"127.0.0.1", "192.168.1.1"}, DHCP: []string{"192.168.1.1"}}
	vpn := Entry{ID: "VPN", Manual: true, Servers: []string{"10.8.0.1"}}
	vpnOurs := Entry{ID: "VPN", Manual: true, Servers: []string{"127.0.0.1", "10.8.0.1"}}
	idle := Entry{ID: "Bridge", Device: "bridge0"}
	original := Settings{System: "networksetup", Entries: []Entry{wifiDHCP, vpn, idle}}
	applied := Settings{System: "networksetup", Entries: []Entry{wifiOurs, vpnOurs, idle}}

	withDHCP := func(e Entry, dhcp ...string) Entry { e.DHCP = dhcp; return e }
	withServers := func(e Entry, manual bool, servers ...string) Entry {
		e.Manual = manual
		e.Servers = servers
		return e
	}
	tests := []struct {
		name        string
		applied     *Settings
		current     []Entry
		want        []Entry
		wantChanged bool
	}{
		{"still ours", &applied, applied.Entries, original.Entries, false},
		{"new network's DHCP servers", &applied,
			[]Entry{withDHCP(wifiOurs, "10.1.1.1"), vpnOurs, idle},
			[]Entry{withServers(withDHCP(wifiDHCP, "10.1.1.1"), false, "10.1.1.1"), vpn, idle}, true},
		{"manual entry keeps its servers on a DHCP change", &applied,
			[]Entry{wifiOurs, withDHCP(vpnOurs, "10.1.1.1"), idle},
			[]Entry{wifiDHCP, withDHCP(vpn, "10.1.1.1"), idle}, true},
		{"user set other servers", &applied,
			[]Entry{withServers(wifiOurs, true, "1.1.1.1"), vpnOurs, idle},
			[]Entry{withServers(wifiOurs, true, "1.1.1.1"), vpn, idle}, true},
		{"user kept the forwarder but added a server", &applied,
			[]Entry{withServers(wifiOurs, true, "127.0.0.1", "1.1.1.1"), vpnOurs, idle},
			[]Entry{withServers(wifiOurs, true, "1.1.1.1"), vpn, idle}, true},
		{"only the forwarder left means automatic", &applied,
			[]Entry{withServers(wifiOurs, true, "127.0.0.1"), vpnOurs, idle},
			[]Entry{withServers(wifiOurs, false), vpn, idle}, true},
		{"service removed", &applied, []Entry{wifiOurs, idle}, []Entry{wifiDHCP, idle}, true},
		{"service added", &applied,
			append([]Entry{wifiOurs, vpnOurs, idle}, Entry{ID: "USB", Servers: []string{"10.2.2.2"}}),
			[]Entry{wifiDHCP, vpn, idle, {ID: "USB", Servers: []string{"10.2.2.2"}}}, true},
		{"crash before applied was saved", nil, applied.Entries, original.Entries, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := Settings{System: "networksetup", Entries: tc.current}
			got, changed := Reconcile(original, tc.applied, cur, netip.MustParseAddr("127.0.0.1"))
			want := Settings{System: "networksetup", Entries: tc.want}
			if !got.Equal(want) || changed != tc.wantChanged {
				t.Errorf("got %+v changed=%v\nwant %+v changed=%v", got.Entries, changed, want.Entries, tc.wantChanged)
			}
		})
	}
}

func TestDiffering(t *testing.T) {
	want := Settings{Entries: []Entry{{ID: "a", Servers: []string{"1.1.1.1"}}, {ID: "b", Manual: true, Servers: []string{"2.2.2.2"}}}}
	have := Settings{Entries: []Entry{{ID: "a", Servers: []string{"1.1.1.1"}, DHCP: []string{"1.1.1.1"}}, {ID: "b", Manual: true, Servers: []string{"127.0.0.1", "2.2.2.2"}}}}
	got := Differing(want, have)
	if len(got.Entries) != 1 || got.Entries[0].ID != "b" {
		t.Errorf("Differing = %+v, want only b", got.Entries)
	}
}

func TestServersAndWithLocal(t *testing.T) {
	s := Settings{Entries: []Entry{
		{Servers: []string{"127.0.0.1", "192.168.1.1", "junk", "0.0.0.0", "fe80::1%en0"}},
		{Servers: []string{"192.168.1.1", "::1"}},
	}}
	if got := fmt.Sprint(Servers(s, local)); got != "[192.168.1.1 fe80::1%en0 ::1]" {
		t.Errorf("Servers = %s", got)
	}
	tests := []struct {
		servers   []string
		keepZoned bool
		want      string
	}{
		{[]string{"192.168.1.1", "fe80::1%en0"}, false, "[127.0.0.1 192.168.1.1]"},
		{[]string{"192.168.1.1", "fe80::1%en0"}, true, "[127.0.0.1 192.168.1.1 fe80::1%en0]"},
		{[]string{"127.0.0.1"}, false, "[]"},
		{[]string{"fe80::1%en0"}, false, "[]"},
		{nil, false, "[]"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(withLocal(local, tc.servers, tc.keepZoned)); got != tc.want {
			t.Errorf("withLocal(%v, %v) = %s, want %s", tc.servers, tc.keepZoned, got, tc.want)
		}
	}
}

func TestParsers(t *testing.T) {
	tests := []struct {
		name string
		got  any
		want string
	}{
		{"getdnsservers none", ParseDNSServers([]byte("There aren't any DNS Servers set on Wi-Fi.\n")), "[]"},
		{"getdnsservers", ParseDNSServers([]byte("10.8.0.1\n 2001:db8::53 \nnot an address\n")), "[10.8.0.1 2001:db8::53]"},
		{"getpacket one", ParseDHCPPacket([]byte("domain_name_server (ip_mult): {192.168.1.1}\n")), "[192.168.1.1]"},
		{"getpacket none", ParseDHCPPacket([]byte("router (ip_mult): {192.168.1.1}\n")), "[]"},
		{"getpacket unterminated", ParseDHCPPacket([]byte("domain_name_server (ip_mult): {192.168.1.1, 8.8")), "[192.168.1.1]"},
		{"scutil empty", ParseScutilDNS([]byte("No DNS configuration available\n")), "{[] }"},
		{"scutil no if_index", ParseScutilDNS([]byte("resolver #1\n  nameserver[0] : 10.0.0.1\nresolver #2\n  nameserver[0] : 10.0.0.2\n")), "{[10.0.0.1] }"},
		{"service order", ParseServiceOrder([]byte("(1) A\n(Hardware Port: A, Device: en0)\n(*) B\n(x) C\n(Hardware Port: orphan)\n")), "[{A en0 true} {B  false}]"},
		{"resolv.conf", ParseResolvConf([]byte("nameserver 10.0.0.1;c\n#nameserver 10.0.0.2\nnameserver\nnameserver bad\noptions ndots:1\n")), "{[10.0.0.1] [ndots:1]}"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(tc.got); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := ParseDNSClientJSON([]byte(`[{"InterfaceIndex":"x"}]`)); err == nil {
		t.Error("bad JSON accepted")
	}
	if e, err := ParseDNSClientJSON([]byte("\ufeff  \r\n")); err != nil || e != nil {
		t.Errorf("empty output: %v %v", e, err)
	}
}
