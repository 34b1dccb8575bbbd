// Package dnsconfig reads and changes which DNS servers the operating
// system uses, for the agent's opt-in resolver mode: /etc/resolv.conf on
// Linux, networksetup on macOS, the DnsClient PowerShell module on
// Windows. The parsing and the command sequences are plain Go tested on
// any OS; only the choice of backend depends on the build target.
//
// Settings are a snapshot that can be saved and restored later, after a
// crash if need be. Apply never leaves an interface pointing at the local
// forwarder alone: the previous servers follow it, so the system falls
// through to them if the forwarder is gone.
package dnsconfig

import (
	"context"
	"net/netip"
	"slices"
)

// Entry is the DNS configuration of one place the system keeps it: the
// resolv.conf file, a macOS network service, a Windows interface.
type Entry struct {
	// ID names it for the system: a file path, a service name, an
	// interface index.
	ID string `json:"id"`
	// Label is a name for people (the Windows interface alias).
	Label string `json:"label,omitempty"`
	// Device is the network device behind a macOS service (en0).
	Device string `json:"device,omitempty"`
	// Manual is true when the servers were set by hand; false when they
	// come from DHCP and restoring means going back to automatic.
	Manual bool `json:"manual"`
	// Servers are the DNS servers in use, in order.
	Servers []string `json:"servers,omitempty"`
	// DHCP are the servers DHCP offers, known even while manual servers
	// override them (macOS and Windows); a change means a new network.
	DHCP []string `json:"dhcp,omitempty"`
	// Raw is the whole resolv.conf, restored byte for byte.
	Raw string `json:"raw,omitempty"`
}

// Equal reports whether two entries describe the same configuration.
func (e Entry) Equal(o Entry) bool {
	return e.sameExceptDHCP(o) && slices.Equal(e.DHCP, o.DHCP)
}

func (e Entry) sameExceptDHCP(o Entry) bool {
	return e.ID == o.ID && e.Label == o.Label && e.Device == o.Device && e.Manual == o.Manual &&
		slices.Equal(e.Servers, o.Servers) && e.Raw == o.Raw
}

// Settings are the DNS configuration of the whole system.
type Settings struct {
	// System names the backend that read them (resolv.conf,
	// networksetup, dnsclient).
	System  string  `json:"system"`
	Entries []Entry `json:"entries"`
}

// Equal reports whether two snapshots are the same, entry by entry.
func (s Settings) Equal(o Settings) bool {
	return s.System == o.System && slices.EqualFunc(s.Entries, o.Entries, Entry.Equal)
}

func (s Settings) entry(id string) (Entry, bool) {
	for _, e := range s.Entries {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// Runner runs a system command and returns its standard output. The
// backends run everything through it, so tests replay recorded output.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// Servers returns the distinct, valid server addresses of s in order,
// without local: the upstreams the local forwarder should use.
func Servers(s Settings, local netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, e := range s.Entries {
		for _, a := range validServers(e.Servers, local) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// validServers parses servers, dropping garbage, unspecified addresses and
// local (forwarding to ourselves would loop).
func validServers(servers []string, local netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsUnspecified() || a.WithZone("") == local.WithZone("") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// withLocal is the server list to configure: local first, then the
// previous servers (zoned link-local addresses dropped when the system
// cannot take them). It is nil when there is no previous server: pointing
// at local alone would leave the system without DNS if the agent died.
func withLocal(local netip.Addr, servers []string, keepZoned bool) []string {
	prev := validServers(servers, local)
	out := []string{local.String()}
	for _, a := range prev {
		if a.Zone() != "" && !keepZoned {
			continue
		}
		out = append(out, a.String())
	}
	if len(out) == 1 {
		return nil
	}
	return out
}

// Reconcile works out the settings to go back to, given the original
// settings saved before Apply, what Apply produced (nil when unknown, as
// after a crash during Apply) and what the system holds now. An entry
// still as we applied it goes back to its original, following a DHCP
// change (a new network) if the original was automatic. An entry someone
// else changed since keeps their change, without the local forwarder.
// Entries that have disappeared are dropped. changed reports whether the
// result differs from original.
func Reconcile(original Settings, applied *Settings, current Settings, local netip.Addr) (next Settings, changed bool) {
	next.System = current.System
	for _, cur := range current.Entries {
		orig, hasOrig := original.entry(cur.ID)
		ours := hasOrig && applied == nil
		var app Entry
		if applied != nil {
			var hasApp bool
			app, hasApp = applied.entry(cur.ID)
			ours = hasOrig && hasApp && cur.sameExceptDHCP(app)
		}
		var n Entry
		switch {
		case ours:
			n = orig
			if applied != nil && !slices.Equal(cur.DHCP, app.DHCP) {
				n.DHCP = slices.Clone(cur.DHCP)
				if !orig.Manual {
					n.Servers = slices.Clone(cur.DHCP)
				}
			}
		case hasOrig && applied != nil && cur.Equal(orig):
			// Not changed by us at all (Apply skipped it).
			n = orig
		default:
			n = cur
			n.Servers = nil
			for _, a := range validServers(cur.Servers, local) {
				n.Servers = append(n.Servers, a.String())
			}
			if len(cur.Servers) > 0 && len(n.Servers) == 0 {
				// Only the local forwarder: nothing to go back to but automatic.
				n.Manual = false
			}
		}
		next.Entries = append(next.Entries, n)
	}
	return next, !next.Equal(original)
}

// Differing returns the entries of want whose configuration differs from
// what the system holds now (have): the ones a restore has to write.
func Differing(want, have Settings) Settings {
	out := Settings{System: want.System}
	for _, w := range want.Entries {
		if h, ok := have.entry(w.ID); ok && h.sameExceptDHCP(w) {
			continue
		}
		out.Entries = append(out.Entries, w)
	}
	return out
}

// System reads and changes the system's DNS settings.
type System interface {
	// Read returns the current settings.
	Read(ctx context.Context) (Settings, error)
	// Apply configures local first, then each entry's servers of
	// original; entries without servers are left alone.
	Apply(ctx context.Context, local netip.Addr, original Settings) error
	// Restore writes the given entries back.
	Restore(ctx context.Context, s Settings) error
}
