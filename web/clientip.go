package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Client addresses behind reverse proxies.
//
// The sign-in rate limit and the sign-in log lines key on the client's
// address. Behind a TLS-terminating proxy the TCP peer is the proxy, so
// every user would share one bucket. A proxy the administrator trusts
// appends the address it saw to X-Forwarded-For; anything further left
// was written by whoever sent the request and proves nothing.

// clientAddrKey is the request context key of the address
// WithTrustedProxies resolved.
type clientAddrKey struct{}

// WithTrustedProxies returns next with each request's client address
// taken from X-Forwarded-For when the TCP peer is inside one of trusted;
// the web view's rate limits and logs then use it. With no trusted
// prefixes it returns next unchanged, so the header is never believed
// unless an administrator asked for it.
func WithTrustedProxies(next http.Handler, trusted []netip.Prefix) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	trusted = slices.Clone(trusted)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr, ok := clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted); ok {
			r = r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, addr))
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddr returns the client's address for a request whose TCP peer
// is remote ("host:port") and whose X-Forwarded-For header lines are xff,
// or false when remote itself is not an address.
//
// The header is read only when the peer is trusted, and right to left:
// each trusted proxy appends the address it saw, so the first untrusted
// address from the right is the last one a trusted proxy vouched for.
// When every entry is trusted (a request from inside the proxies' own
// network), the leftmost is the client. An entry that is not an address,
// met before the client is found, means the chain cannot be followed;
// the peer's address is used then, as it would be without the header.
// Entries left of the client's were written by the client and are not
// looked at, so junk there changes nothing.
func clientAddr(remote string, xff []string, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, ok := parseHostAddr(remote)
	if !ok {
		return netip.Addr{}, false
	}
	if !trustedAddr(peer, trusted) {
		return peer, true
	}
	var leftmost netip.Addr
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		// Walk the line's comma-separated entries from the right without
		// splitting it: the header may be long and only its end matters.
		for end := len(line); end >= 0; {
			start := strings.LastIndexByte(line[:end], ',') + 1
			addr, ok := parseHostAddr(strings.TrimSpace(line[start:end]))
			if !ok {
				return peer, true
			}
			if !trustedAddr(addr, trusted) {
				return addr, true
			}
			leftmost = addr
			end = start - 1
		}
	}
	if leftmost.IsValid() {
		return leftmost, true
	}
	return peer, true
}

// parseHostAddr parses an address as RemoteAddr or a proxy writes it:
// "192.0.2.1", "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]" or
// "[2001:db8::1]:443". IPv4-mapped IPv6 addresses become IPv4 and zones
// are dropped, so one host always has one form.
func parseHostAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if !validPort(port) {
			return netip.Addr{}, false
		}
		host = h
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

// validPort reports whether port is 1 to 5 digits, as a proxy writes it.
func validPort(port string) bool {
	if port == "" || len(port) > 5 {
		return false
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func trustedAddr(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
