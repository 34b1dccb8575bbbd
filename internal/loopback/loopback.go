// Package loopback tells whether a host name stays on this machine, for
// the rules that allow plain text (no TLS, http://) only to loopback.
package loopback

import (
	"net/netip"
	"strings"
)

// Host reports whether host is "localhost" (in any case) or a loopback
// IP address (127.0.0.0/8, ::1, with or without brackets or an IPv6
// zone). A name such as "127.evil.example" is not: only an address that
// parses counts, never a prefix of a name.
func Host(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
