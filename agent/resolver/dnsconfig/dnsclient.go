package dnsconfig

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// DNSClient is the Windows backend, through the DnsClient PowerShell
// module. Get-DnsClientServerAddress cannot tell manual servers from
// DHCP ones, so the read also takes each interface's NameServer (manual)
// and DhcpNameServer values from the Tcpip registry keys: Restore sets the
// manual servers back, or resets an interface that used DHCP, instead of
// freezing DHCP's servers as static ones that would break the next
// network.
type DNSClient struct {
	Runner Runner
}

const dnsClientSystem = "dnsclient"

// readScript prints one JSON object per interface and address family.
const readScript = `$ErrorActionPreference = 'Stop'
$rows = @(Get-DnsClientServerAddress -AddressFamily IPv4,IPv6 | ForEach-Object {
  $key = if ([int]$_.AddressFamily -eq 23) { 'Tcpip6' } else { 'Tcpip' }
  $guid = (Get-NetAdapter -InterfaceIndex $_.InterfaceIndex -IncludeHidden -ErrorAction SilentlyContinue).InterfaceGuid
  $reg = $null
  if ($guid) { $reg = Get-ItemProperty -Path "HKLM:\SYSTEM\CurrentControlSet\Services\$key\Parameters\Interfaces\$guid" -ErrorAction SilentlyContinue }
  [pscustomobject]@{
    InterfaceIndex = $_.InterfaceIndex
    InterfaceAlias = $_.InterfaceAlias
    AddressFamily = [int]$_.AddressFamily
    ServerAddresses = @($_.ServerAddresses)
    NameServer = "$($reg.NameServer)"
    DhcpNameServer = "$($reg.DhcpNameServer)"
  }
})
ConvertTo-Json -InputObject $rows -Compress`

func (d DNSClient) powershell(ctx context.Context, script string) ([]byte, error) {
	return d.Runner.Run(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script)
}

// Read returns one entry per interface, IPv4 and IPv6 servers together.
func (d DNSClient) Read(ctx context.Context) (Settings, error) {
	out, err := d.powershell(ctx, readScript)
	if err != nil {
		return Settings{}, fmt.Errorf("read DNS client settings: %w", err)
	}
	entries, err := ParseDNSClientJSON(out)
	if err != nil {
		return Settings{}, fmt.Errorf("read DNS client settings: %w", err)
	}
	return Settings{System: dnsClientSystem, Entries: entries}, nil
}

// Apply sets local and the previous servers on every interface that has
// servers; the loopback pseudo-interface and interfaces without servers
// are left alone.
func (d DNSClient) Apply(ctx context.Context, local netip.Addr, original Settings) error {
	for _, e := range original.Entries {
		if strings.HasPrefix(e.Label, "Loopback") {
			continue
		}
		servers := withLocal(local, e.Servers, false)
		if servers == nil {
			continue
		}
		if err := d.set(ctx, e.ID, servers); err != nil {
			return err
		}
	}
	return nil
}

// Restore sets manual servers back, or resets DHCP interfaces.
func (d DNSClient) Restore(ctx context.Context, s Settings) error {
	for _, e := range s.Entries {
		var servers []string
		if e.Manual {
			for _, a := range validServers(e.Servers, netip.Addr{}) {
				if a.Zone() == "" {
					servers = append(servers, a.String())
				}
			}
		}
		if len(servers) > 0 {
			if err := d.set(ctx, e.ID, servers); err != nil {
				return err
			}
			continue
		}
		index, err := interfaceIndex(e.ID)
		if err != nil {
			return err
		}
		if _, err := d.powershell(ctx, fmt.Sprintf("Set-DnsClientServerAddress -InterfaceIndex %d -ResetServerAddresses", index)); err != nil {
			return fmt.Errorf("reset DNS servers of interface %d: %w", index, err)
		}
	}
	return nil
}

// set builds the command only from an integer and parsed addresses, so
// nothing read from the system can inject PowerShell.
func (d DNSClient) set(ctx context.Context, id string, servers []string) error {
	index, err := interfaceIndex(id)
	if err != nil {
		return err
	}
	quoted := make([]string, 0, len(servers))
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("set DNS servers of interface %d: bad address %q", index, s)
		}
		quoted = append(quoted, "'"+a.String()+"'")
	}
	script := fmt.Sprintf("Set-DnsClientServerAddress -InterfaceIndex %d -ServerAddresses @(%s)", index, strings.Join(quoted, ","))
	if _, err := d.powershell(ctx, script); err != nil {
		return fmt.Errorf("set DNS servers of interface %d: %w", index, err)
	}
	return nil
}

func interfaceIndex(id string) (int, error) {
	index, err := strconv.Atoi(id)
	if err != nil || index <= 0 {
		return 0, fmt.Errorf("bad interface index %q", id)
	}
	return index, nil
}

// dnsClientRow is one interface and family of the read script's output.
type dnsClientRow struct {
	InterfaceIndex  int
	InterfaceAlias  string
	AddressFamily   int
	ServerAddresses stringList
	NameServer      string
	DhcpNameServer  string
}

// stringList takes a JSON array of strings, a lone string or null:
// ConvertTo-Json writes all three.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var s []string
		err := json.Unmarshal(b, &s)
		*l = s
		return err
	}
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = nil
	if s != nil && *s != "" {
		*l = []string{*s}
	}
	return nil
}

// ParseDNSClientJSON reads the read script's output (an array, or a lone
// object when there is one row) into one entry per interface.
func ParseDNSClientJSON(out []byte) ([]Entry, error) {
	out = bytes.TrimSpace(bytes.TrimPrefix(out, []byte("\xef\xbb\xbf")))
	if len(out) == 0 {
		return nil, nil
	}
	var rows []dnsClientRow
	if out[0] == '{' {
		var row dnsClientRow
		if err := json.Unmarshal(out, &row); err != nil {
			return nil, fmt.Errorf("parse DNS client JSON: %w", err)
		}
		rows = []dnsClientRow{row}
	} else if err := json.Unmarshal(out, &rows); err != nil {
		return nil, fmt.Errorf("parse DNS client JSON: %w", err)
	}
	var entries []Entry
	byIndex := map[int]int{}
	// IPv4 before IPv6 so an interface lists its IPv4 servers first.
	slices.SortStableFunc(rows, func(a, b dnsClientRow) int { return cmp.Compare(a.AddressFamily, b.AddressFamily) })
	for _, r := range rows {
		if r.InterfaceIndex <= 0 {
			continue
		}
		i, ok := byIndex[r.InterfaceIndex]
		if !ok {
			i = len(entries)
			byIndex[r.InterfaceIndex] = i
			entries = append(entries, Entry{ID: strconv.Itoa(r.InterfaceIndex), Label: r.InterfaceAlias})
		}
		e := &entries[i]
		for _, s := range r.ServerAddresses {
			if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil && !windowsPlaceholder(a) {
				e.Servers = append(e.Servers, a.String())
			}
		}
		if len(registryList(r.NameServer)) > 0 {
			e.Manual = true
		}
		e.DHCP = append(e.DHCP, registryList(r.DhcpNameServer)...)
	}
	slices.SortStableFunc(entries, func(a, b Entry) int {
		x, _ := strconv.Atoi(a.ID)
		y, _ := strconv.Atoi(b.ID)
		return cmp.Compare(x, y)
	})
	return entries, nil
}

// registryList splits a NameServer registry value (space or comma
// separated addresses).
func registryList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }) {
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, a.String())
		}
	}
	return out
}

// windowsPlaceholder reports the site-local addresses Windows lists for
// IPv6 when no IPv6 DNS server is configured (fec0:0:0:ffff::1 to ::3):
// nothing answers there, so they are neither upstreams nor worth
// restoring as static servers.
func windowsPlaceholder(a netip.Addr) bool {
	p := netip.MustParsePrefix("fec0:0:0:ffff::/64")
	if !p.Contains(a) {
		return false
	}
	last := a.As16()[15]
	return a.As16()[14] == 0 && last >= 1 && last <= 3 && a.Zone() == ""
}
