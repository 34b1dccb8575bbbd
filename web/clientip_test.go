package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.1.1/32"),
		netip.MustParsePrefix("2001:db8:ffff::/48"),
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string // "" when no address can be had
	}{
		{"untrusted peer, no header", "203.0.113.9:51000", nil, "203.0.113.9"},
		{"untrusted peer, spoofed header", "203.0.113.9:51000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer, header naming a trusted proxy", "203.0.113.9:51000", []string{"10.0.0.1"}, "203.0.113.9"},
		{"trusted peer, no header", "10.0.0.2:443", nil, "10.0.0.2"},
		{"trusted peer, blank header", "10.0.0.2:443", []string{"  "}, "10.0.0.2"},
		{"one hop", "10.0.0.2:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"one hop, IPv6", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"IPv6 client behind IPv4 proxy", "10.0.0.2:443", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"several trusted hops", "10.0.0.2:443", []string{"203.0.113.9, 10.1.1.1,192.168.1.1"}, "203.0.113.9"},
		{"client's own entries left of it are ignored", "10.0.0.2:443", []string{"6.6.6.6, 203.0.113.9, 10.1.1.1"}, "203.0.113.9"},
		{"untrusted hop between trusted ones wins", "10.0.0.2:443", []string{"203.0.113.9, 198.51.100.7, 10.1.1.1"}, "198.51.100.7"},
		{"all trusted: the leftmost", "10.0.0.2:443", []string{"10.9.9.9, 192.168.1.1, 10.1.1.1"}, "10.9.9.9"},
		{"several header lines", "10.0.0.2:443", []string{"6.6.6.6", "203.0.113.9, 10.1.1.1", "10.2.2.2"}, "203.0.113.9"},
		{"all trusted over several lines", "10.0.0.2:443", []string{"10.9.9.9", "", "10.1.1.1"}, "10.9.9.9"},
		{"IPv4 entry with a port", "10.0.0.2:443", []string{"203.0.113.9:5123"}, "203.0.113.9"},
		{"IPv6 entry with a port", "10.0.0.2:443", []string{"[2001:db8:1::5]:443"}, "2001:db8:1::5"},
		{"bracketed IPv6 entry", "10.0.0.2:443", []string{"[2001:db8:1::5]"}, "2001:db8:1::5"},
		{"IPv4-mapped peer and entry", "[::ffff:10.0.0.2]:443", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"zone dropped", "[fe80::1%eth0]:443", nil, "fe80::1"},
		{"garbage entry", "10.0.0.2:443", []string{"unknown"}, "10.0.0.2"},
		{"garbage before the client is found", "10.0.0.2:443", []string{"203.0.113.9, not-an-ip, 10.1.1.1"}, "10.0.0.2"},
		{"garbage left of the client", "10.0.0.2:443", []string{"<script>, 203.0.113.9"}, "203.0.113.9"},
		{"empty entry", "10.0.0.2:443", []string{"203.0.113.9,,10.1.1.1"}, "10.0.0.2"},
		{"trailing comma", "10.0.0.2:443", []string{"203.0.113.9,"}, "10.0.0.2"},
		{"bad port", "10.0.0.2:443", []string{"203.0.113.9:http"}, "10.0.0.2"},
		{"out of range octet", "10.0.0.2:443", []string{"203.0.113.999"}, "10.0.0.2"},
		{"CIDR is not an address", "10.0.0.2:443", []string{"203.0.113.0/24"}, "10.0.0.2"},
		{"peer without a port", "10.0.0.2", []string{"203.0.113.9"}, "203.0.113.9"},
		{"peer not an address", "@", []string{"203.0.113.9"}, ""},
		{"peer empty", "", []string{"203.0.113.9"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := clientAddr(tt.remote, tt.xff, trusted)
			if tt.want == "" {
				if ok {
					t.Fatalf("clientAddr(%q, %q) = %s, want none", tt.remote, tt.xff, got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tt.want) {
				t.Fatalf("clientAddr(%q, %q) = %s, %v; want %s", tt.remote, tt.xff, got, ok, tt.want)
			}
		})
	}
}

// TestSignInRateLimitBehindProxy signs in through a reverse proxy in
// 10.0.0.0/8 that appends the address it saw to X-Forwarded-For, as
// nginx's $proxy_add_x_forwarded_for and Go's httputil.ReverseProxy do.
func TestSignInRateLimitBehindProxy(t *testing.T) {
	t.Parallel()
	const proxyPeer = "10.0.0.5:48000"
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}

	// viaProxy is a browser at client whose requests reach the collector
	// through the proxy; sent is what the browser itself puts in
	// X-Forwarded-For.
	viaProxy := func(t *testing.T, h http.Handler, client, sent string) *authBrowser {
		proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			xff := client
			if sent != "" {
				xff = sent + ", " + client
			}
			r.Header.Set("X-Forwarded-For", xff)
			h.ServeHTTP(w, r)
		})
		return &authBrowser{t: t, h: proxy, remote: proxyPeer, cookies: map[string]*http.Cookie{}}
	}
	// direct is a browser that reaches the collector itself, and sends
	// an X-Forwarded-For of its choosing on each request.
	direct := func(t *testing.T, h http.Handler, remote string) *authBrowser {
		n := 0
		spoof := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			r.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", n))
			h.ServeHTTP(w, r)
		})
		return &authBrowser{t: t, h: spoof, remote: remote, cookies: map[string]*http.Cookie{}}
	}
	// exhaust makes signinBurst failed attempts, each on its own account
	// so that only the per-client limit can bite, and returns the answer
	// to one more.
	exhaust := func(t *testing.T, b *authBrowser, who string) int {
		t.Helper()
		for i := range signinBurst {
			if rec := b.signIn(fmt.Sprintf("%s-%d@example.com", who, i), "wrong password", "/"); rec.Code != http.StatusUnprocessableEntity {
				t.Fatalf("%s attempt %d: %d", who, i+1, rec.Code)
			}
		}
		return b.signIn(who+"-last@example.com", "wrong password", "/").Code
	}

	t.Run("clients behind a trusted proxy have their own buckets", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, false, false)
		h := WithTrustedProxies(f.srv.Handler(), trusted)
		if code := exhaust(t, viaProxy(t, h, "203.0.113.1", ""), "alice"); code != http.StatusTooManyRequests {
			t.Fatalf("alice's sixth attempt: %d, want 429", code)
		}
		// What alice writes herself is left of what the proxy appends.
		if rec := viaProxy(t, h, "203.0.113.1", "198.51.100.99").signIn("alice-x@example.com", "wrong password", "/"); rec.Code != http.StatusTooManyRequests {
			t.Errorf("alice with a header of her own: %d, want 429", rec.Code)
		}
		if rec := viaProxy(t, h, "203.0.113.2", "").signIn(authTestEmail, authTestPassword, "/"); rec.Code != http.StatusSeeOther {
			t.Errorf("bob through the same proxy: %d, want a sign-in", rec.Code)
		}
	})
	t.Run("no trusted proxies: the header is ignored", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, false, false)
		h := WithTrustedProxies(f.srv.Handler(), nil)
		if code := exhaust(t, viaProxy(t, h, "203.0.113.1", ""), "alice"); code != http.StatusTooManyRequests {
			t.Fatalf("alice's sixth attempt: %d, want 429", code)
		}
		if rec := viaProxy(t, h, "203.0.113.2", "").signIn(authTestEmail, authTestPassword, "/"); rec.Code != http.StatusTooManyRequests {
			t.Errorf("bob through the same untrusted proxy: %d, want 429 (one bucket)", rec.Code)
		}
	})
	t.Run("spoofed header from an untrusted peer", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, false, false)
		h := WithTrustedProxies(f.srv.Handler(), trusted)
		if code := exhaust(t, direct(t, h, "198.51.100.7:51000"), "mallory"); code != http.StatusTooManyRequests {
			t.Fatalf("sixth attempt with a new X-Forwarded-For each time: %d, want 429", code)
		}
	})
}

// TestClientKeyWithoutMiddleware keeps the address-only keys for a
// request that did not pass through WithTrustedProxies.
func TestClientKeyWithoutMiddleware(t *testing.T) {
	t.Parallel()
	tests := []struct{ remote, want string }{
		{"192.0.2.1:4000", "192.0.2.1"},
		{"[2001:db8::1]:4000", "2001:db8::/64"},
		{"[::ffff:192.0.2.1]:4000", "192.0.2.1"},
		{"pipe:0", "pipe"},
		{"@", "@"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		if got := clientKey(r); got != tt.want {
			t.Errorf("clientKey with RemoteAddr %q = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
