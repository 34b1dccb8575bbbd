package dnsconfig

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// NetworkSetup is the macOS backend. It reads every enabled network
// service with networksetup; a service without manual DNS servers uses
// what DHCP gave its device (ipconfig getpacket), or, for the device of
// the system's first resolver, what scutil --dns shows. Apply sets manual
// servers (local first, then those) on each service that has any;
// Restore puts back the manual servers, or "Empty" for automatic ones.
//
// While manual servers are set, macOS ignores DHCP's, so a new network is
// noticed through ipconfig getpacket: the Guard sees the DHCP servers
// change and re-applies with them.
type NetworkSetup struct {
	Runner Runner
}

const networkSetupSystem = "networksetup"

// Read returns one entry per enabled network service.
func (n NetworkSetup) Read(ctx context.Context) (Settings, error) {
	out, err := n.Runner.Run(ctx, "networksetup", "-listnetworkserviceorder")
	if err != nil {
		return Settings{}, fmt.Errorf("list network services: %w", err)
	}
	services := ParseServiceOrder(out)
	var primary MacResolver
	var primaryRead bool
	s := Settings{System: networkSetupSystem}
	for _, svc := range services {
		if !svc.Enabled {
			continue
		}
		out, err := n.Runner.Run(ctx, "networksetup", "-getdnsservers", svc.Name)
		if err != nil {
			return Settings{}, fmt.Errorf("DNS servers of %q: %w", svc.Name, err)
		}
		e := Entry{ID: svc.Name, Device: svc.Device, Servers: ParseDNSServers(out)}
		e.Manual = len(e.Servers) > 0
		if svc.Device != "" {
			// Not connected: getpacket fails, no DHCP servers.
			if out, err := n.Runner.Run(ctx, "ipconfig", "getpacket", svc.Device); err == nil {
				e.DHCP = ParseDHCPPacket(out)
			}
		}
		if !e.Manual {
			e.Servers = e.DHCP
			if len(e.Servers) == 0 && svc.Device != "" {
				if !primaryRead {
					out, err := n.Runner.Run(ctx, "scutil", "--dns")
					if err != nil {
						return Settings{}, fmt.Errorf("read resolver configuration: %w", err)
					}
					primary = ParseScutilDNS(out)
					primaryRead = true
				}
				if primary.Device == svc.Device {
					e.Servers = primary.Nameservers
				}
			}
		}
		s.Entries = append(s.Entries, e)
	}
	return s, nil
}

// Apply sets local and the previous servers on every service that has
// servers; services without any are left alone.
func (n NetworkSetup) Apply(ctx context.Context, local netip.Addr, original Settings) error {
	for _, e := range original.Entries {
		servers := withLocal(local, e.Servers, false)
		if servers == nil {
			continue
		}
		args := append([]string{"-setdnsservers", e.ID}, servers...)
		if _, err := n.Runner.Run(ctx, "networksetup", args...); err != nil {
			return fmt.Errorf("set DNS servers of %q: %w", e.ID, err)
		}
	}
	return nil
}

// Restore puts back each entry's manual servers, or automatic DNS.
func (n NetworkSetup) Restore(ctx context.Context, s Settings) error {
	for _, e := range s.Entries {
		args := []string{"-setdnsservers", e.ID}
		var servers []string
		if e.Manual {
			for _, a := range validServers(e.Servers, netip.Addr{}) {
				servers = append(servers, a.String())
			}
		}
		if len(servers) == 0 {
			servers = []string{"Empty"}
		}
		if _, err := n.Runner.Run(ctx, "networksetup", append(args, servers...)...); err != nil {
			return fmt.Errorf("restore DNS servers of %q: %w", e.ID, err)
		}
	}
	return nil
}

// MacService is one line pair of networksetup -listnetworkserviceorder.
type MacService struct {
	Name    string
	Device  string
	Enabled bool
}

// ParseServiceOrder reads networksetup -listnetworkserviceorder:
//
//	(1) Wi-Fi
//	(Hardware Port: Wi-Fi, Device: en0)
//	(*) Bluetooth PAN
func ParseServiceOrder(out []byte) []MacService {
	var services []MacService
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "(") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "(Hardware Port:"); ok {
			if len(services) > 0 {
				if _, dev, ok := strings.Cut(rest, "Device:"); ok {
					services[len(services)-1].Device = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(dev), ")"))
				}
			}
			continue
		}
		marker, name, ok := strings.Cut(line[1:], ")")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			continue
		}
		disabled := marker == "*"
		if !disabled && !isDigits(marker) {
			continue
		}
		services = append(services, MacService{Name: name, Enabled: !disabled})
	}
	return services
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParseDNSServers reads networksetup -getdnsservers: one address a line,
// or a sentence saying there are none.
func ParseDNSServers(out []byte) []string {
	var servers []string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if a, err := netip.ParseAddr(line); err == nil {
			servers = append(servers, a.String())
		}
	}
	return servers
}

// ParseDHCPPacket reads the domain_name_server option of ipconfig
// getpacket: "domain_name_server (ip_mult): {192.168.1.1, 192.168.1.2}".
func ParseDHCPPacket(out []byte) []string {
	for line := range strings.Lines(string(out)) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "domain_name_server")
		if !ok {
			continue
		}
		_, list, ok := strings.Cut(rest, "{")
		if !ok {
			return nil
		}
		list, _, _ = strings.Cut(list, "}")
		var servers []string
		for f := range strings.SplitSeq(list, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(f)); err == nil {
				servers = append(servers, a.String())
			}
		}
		return servers
	}
	return nil
}

// MacResolver is resolver #1 of scutil --dns: the system's default.
type MacResolver struct {
	Nameservers []string
	Device      string // from "if_index : 6 (en0)"
}

// ParseScutilDNS reads resolver #1 of the first section of scutil --dns
// (the default resolver; later sections are scoped copies).
func ParseScutilDNS(out []byte) MacResolver {
	var r MacResolver
	in := false
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "resolver #") {
			if in {
				break
			}
			in = line == "resolver #1"
			continue
		}
		if strings.HasPrefix(line, "DNS configuration") && in {
			break
		}
		if !in {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case strings.HasPrefix(key, "nameserver["):
			if a, err := netip.ParseAddr(value); err == nil {
				r.Nameservers = append(r.Nameservers, a.String())
			}
		case key == "if_index":
			if _, dev, ok := strings.Cut(value, "("); ok {
				r.Device = strings.TrimSuffix(strings.TrimSpace(dev), ")")
			}
		}
	}
	return r
}
