package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// parseProxy parses one trusted_proxies entry: a CIDR, or a bare address
// meaning that address alone. The prefix must be written masked and
// IPv4 ranges as IPv4, because the server compares them with unmapped
// peer addresses and "10.0.0.1/8" is more likely a typo than a range.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty: want a CIDR such as 10.0.0.0/8 or fd00::/8")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR such as 10.0.0.0/8 or fd00::/8 (%v)", err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR such as 10.0.0.0/8 or fd00::/8, or one address")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("an address with a zone (%%%s) cannot be matched: leave the zone out", a.Zone())
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		hint := ""
		if p.Bits() >= 96 {
			hint = fmt.Sprintf(" (%s)", netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked())
		}
		return netip.Prefix{}, fmt.Errorf("an IPv4-mapped IPv6 range: write it as IPv4%s", hint)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("has bits set after the first %d: did you mean %s?", p.Bits(), m)
	}
	return p, nil
}

// TrustedProxyPrefixes returns trusted_proxies parsed, for the web
// view. Entries Validate refuses are left out.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// validateProxies reports each trusted_proxies entry that is not a
// prefix.
func (c Config) validateProxies(bad func(string, ...any)) {
	for i, s := range c.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			key := fmt.Sprintf("trusted_proxies[%d]", i)
			from := c.from(key)
			if from == "" {
				from = c.from("trusted_proxies")
			}
			bad("%s %q%s: %v", key, s, from, err)
		}
	}
}

// proxyAdvice warns about prefixes wider than a proxy needs. Any client
// inside a trusted range may name any address in X-Forwarded-For, so a
// range that holds clients (an office or VPN network, 10.0.0.0/8) lets them
// pick their own sign-in rate-limit bucket; /0 trusts everyone.
func (c Config) proxyAdvice() []string {
	var w []string
	for _, p := range c.TrustedProxyPrefixes() {
		switch {
		case p.Bits() == 0:
			w = append(w, fmt.Sprintf("trusted_proxies has %s: every client is trusted to say where it comes from, so none is held to the sign-in rate limit; list the proxies' own addresses", p))
		case (p.Addr().Is4() && p.Bits() < 24) || (p.Addr().Is6() && p.Bits() < 64):
			w = append(w, fmt.Sprintf("trusted_proxies has %s, a range wider than a proxy needs: a client inside it can name any address to the sign-in rate limit; list the proxies' own addresses", p))
		}
	}
	return w
}

// splitProxies reads SHADOWMAP_TRUSTED_PROXIES: prefixes separated by
// commas or spaces.
func splitProxies(s string) ([]string, error) {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }), nil
}
