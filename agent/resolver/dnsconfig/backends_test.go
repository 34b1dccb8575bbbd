package dnsconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

var local = netip.MustParseAddr("127.0.0.1")

// replay answers commands with recorded output from testdata and keeps a
// transcript of what was run.
type replay struct {
	t       *testing.T
	outputs map[string]string // command line -> testdata file, "" = no output
	calls   []string
}

func (r *replay) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := name + " " + strings.Join(args, " ")
	r.calls = append(r.calls, line)
	file, ok := r.outputs[line]
	if !ok {
		return nil, fmt.Errorf("%s: exit status 1", line)
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		r.t.Fatal(err)
	}
	return b, nil
}

// transcript renders the settings read and the commands of Apply and
// Restore, for a golden file.
func transcript(t *testing.T, sys System, r *replay) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	s, err := sys.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(s, "", "  ")
	fmt.Fprintf(&b, "== read\n%s\n", js)
	fmt.Fprintf(&b, "upstreams: %v\n", Servers(s, local))
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"apply", func() error { return sys.Apply(ctx, local, s) }},
		{"restore every entry", func() error { return sys.Restore(ctx, s) }},
	} {
		r.calls = nil
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		fmt.Fprintf(&b, "== %s\n", step.name)
		for _, c := range r.calls {
			fmt.Fprintf(&b, "%s\n", c)
		}
	}
	return b.String()
}

func TestNetworkSetup(t *testing.T) {
	r := &replay{t: t, outputs: map[string]string{
		"networksetup -listnetworkserviceorder":                                       "macos/listnetworkserviceorder.txt",
		"networksetup -getdnsservers USB 10/100/1000 LAN":                             "macos/getdnsservers-usb.txt",
		"networksetup -getdnsservers Wi-Fi":                                           "macos/getdnsservers-wifi.txt",
		"networksetup -getdnsservers Office VPN (Manual)":                             "macos/getdnsservers-vpn.txt",
		"networksetup -getdnsservers Thunderbolt Bridge":                              "macos/getdnsservers-bridge.txt",
		"ipconfig getpacket en0":                                                      "macos/getpacket-en0.txt",
		"scutil --dns":                                                                "macos/scutil-dns.txt",
		"networksetup -setdnsservers Wi-Fi 127.0.0.1 192.168.1.1 9.9.9.9":             "",
		"networksetup -setdnsservers Office VPN (Manual) 127.0.0.1 10.8.0.1 10.8.0.2": "",
		"networksetup -setdnsservers USB 10/100/1000 LAN Empty":                       "",
		"networksetup -setdnsservers Wi-Fi Empty":                                     "",
		"networksetup -setdnsservers Office VPN (Manual) 10.8.0.1 10.8.0.2":           "",
		"networksetup -setdnsservers Thunderbolt Bridge Empty":                        "",
	}}
	golden.Check(t, "testdata/golden/networksetup.txt", transcript(t, NetworkSetup{Runner: r}, r))
}

// TestNetworkSetupPrimaryFromScutil: a service without DHCP servers of its
// own (getpacket says nothing) that carries the default resolver takes
// scutil's servers.
func TestNetworkSetupPrimaryFromScutil(t *testing.T) {
	r := &replay{t: t, outputs: map[string]string{
		"networksetup -listnetworkserviceorder":           "macos/listnetworkserviceorder.txt",
		"networksetup -getdnsservers USB 10/100/1000 LAN": "macos/getdnsservers-usb.txt",
		"networksetup -getdnsservers Wi-Fi":               "macos/getdnsservers-wifi.txt",
		"networksetup -getdnsservers Office VPN (Manual)": "macos/getdnsservers-vpn.txt",
		"networksetup -getdnsservers Thunderbolt Bridge":  "macos/getdnsservers-bridge.txt",
		"scutil --dns": "macos/scutil-dns.txt",
	}}
	s, err := NetworkSetup{Runner: r}.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wifi, _ := s.entry("Wi-Fi")
	if got := strings.Join(wifi.Servers, " "); got != "192.168.1.1 9.9.9.9 fe80::1%en0" || wifi.Manual {
		t.Errorf("Wi-Fi %+v", wifi)
	}
}

func TestNetworkSetupErrors(t *testing.T) {
	r := &replay{t: t, outputs: map[string]string{}}
	if _, err := (NetworkSetup{Runner: r}).Read(context.Background()); err == nil {
		t.Error("Read succeeded without networksetup")
	}
	s := Settings{Entries: []Entry{{ID: "Wi-Fi", Servers: []string{"192.168.1.1"}}}}
	if err := (NetworkSetup{Runner: r}).Apply(context.Background(), local, s); err == nil || !strings.Contains(err.Error(), "Wi-Fi") {
		t.Errorf("Apply = %v, want a failure naming the service", err)
	}
}

func TestDNSClient(t *testing.T) {
	ps := func(script string) string { return "powershell.exe -NoProfile -NonInteractive -Command " + script }
	r := &replay{t: t, outputs: map[string]string{
		ps(readScript): "windows/get-dnsclient.json",
		ps("Set-DnsClientServerAddress -InterfaceIndex 7 -ServerAddresses @('127.0.0.1','10.0.0.53','10.0.1.53')"):            "",
		ps("Set-DnsClientServerAddress -InterfaceIndex 12 -ServerAddresses @('127.0.0.1','192.168.1.1','9.9.9.9','fd00::1')"): "",
		ps("Set-DnsClientServerAddress -InterfaceIndex 1 -ResetServerAddresses"):                                              "",
		ps("Set-DnsClientServerAddress -InterfaceIndex 7 -ServerAddresses @('10.0.0.53','10.0.1.53')"):                        "",
		ps("Set-DnsClientServerAddress -InterfaceIndex 12 -ResetServerAddresses"):                                             "",
		ps("Set-DnsClientServerAddress -InterfaceIndex 19 -ResetServerAddresses"):                                             "",
	}}
	got := transcript(t, DNSClient{Runner: r}, r)
	got = strings.ReplaceAll(got, readScript, "<read script>")
	golden.Check(t, "testdata/golden/dnsclient.txt", got)
}

func TestDNSClientSingleObject(t *testing.T) {
	b, err := os.ReadFile("testdata/windows/get-dnsclient-single.json")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ParseDNSClientJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{ID: "12", Label: "Wi-Fi", Servers: []string{"192.168.1.1"}, DHCP: []string{"192.168.1.1"}}
	if len(entries) != 1 || !entries[0].Equal(want) {
		t.Errorf("got %+v, want %+v", entries, want)
	}
}

func TestDNSClientRefusesInjection(t *testing.T) {
	r := &replay{t: t, outputs: map[string]string{}}
	for _, e := range []Entry{
		{ID: "12; Remove-Item C:\\", Manual: true, Servers: []string{"192.168.1.1"}},
		{ID: "-1", Manual: true, Servers: []string{"192.168.1.1"}},
	} {
		err := DNSClient{Runner: r}.Restore(context.Background(), Settings{Entries: []Entry{e}})
		if err == nil {
			t.Errorf("restored %q", e.ID)
		}
	}
	if len(r.calls) != 0 {
		t.Errorf("ran %v", r.calls)
	}
}

func TestResolvConfRender(t *testing.T) {
	for _, name := range []string{"plain", "options"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata/resolvconf", name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := RenderResolvConf(raw, local)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata/golden", "resolvconf-"+name+".conf"), string(out))
		})
	}
}

func TestResolvConfNoServers(t *testing.T) {
	for _, raw := range []string{"search lan\n# no servers\n", "nameserver 127.0.0.1\n", ""} {
		if out, err := RenderResolvConf([]byte(raw), local); err == nil {
			t.Errorf("%q rendered to %q, want a refusal (local alone leaves no fall-through)", raw, out)
		}
	}
}

func TestResolvConfReadApplyRestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	raw, err := os.ReadFile("testdata/resolvconf/options.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o640); err != nil {
		t.Fatal(err)
	}
	sys := ResolvConf{Path: path}
	s, err := sys.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(Servers(s, local)); got != "[10.0.0.53 10.0.1.53]" {
		t.Errorf("upstreams %s", got)
	}
	if err := sys.Apply(ctx, local, s); err != nil {
		t.Fatal(err)
	}
	applied, err := sys.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(applied.Entries[0].Servers, " "); got != "127.0.0.1 10.0.0.53 10.0.1.53" {
		t.Errorf("applied servers %s", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
	if err := sys.Restore(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(raw) {
		t.Errorf("restored:\n%s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".resolv.conf*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestResolvConfRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ target, want string }{
		{"/run/systemd/resolve/stub-resolv.conf", "systemd-resolved"},
		{"/run/resolvconf/resolv.conf", "regular file"},
	} {
		path := filepath.Join(dir, "resolv.conf")
		os.Remove(path)
		if err := os.Symlink(tc.target, path); err != nil {
			t.Fatal(err)
		}
		_, err := ResolvConf{Path: path}.Read(context.Background())
		if !errors.Is(err, ErrManaged) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "packet capture") {
			t.Errorf("%s: %v", tc.target, err)
		}
	}
}
