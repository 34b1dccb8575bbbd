package okta

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/signatures"
)

func TestParseLinks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   []Link
		next   string
	}{
		{"okta two headers", []string{
			`<https://acme.okta.com/api/v1/logs?limit=1000&after=1a0c>; rel="self"`,
			`<https://acme.okta.com/api/v1/logs?limit=1000&after=2b1d>; rel="next"`,
		}, []Link{
			{"https://acme.okta.com/api/v1/logs?limit=1000&after=1a0c", []string{"self"}},
			{"https://acme.okta.com/api/v1/logs?limit=1000&after=2b1d", []string{"next"}},
		}, "https://acme.okta.com/api/v1/logs?limit=1000&after=2b1d"},
		{"one header, comma in URL and quoted title", []string{
			`<https://a.example/x?f=a,b;c>; title="one, two; three"; rel=next, <https://a.example/self>; rel="self"`,
		}, []Link{
			{"https://a.example/x?f=a,b;c", []string{"next"}},
			{"https://a.example/self", []string{"self"}},
		}, "https://a.example/x?f=a,b;c"},
		{"several rel types, case, first rel wins", []string{
			`<https://a.example/p2>; REL="Next Prefetch"; rel="self"`,
		}, []Link{{"https://a.example/p2", []string{"next", "prefetch"}}}, "https://a.example/p2"},
		{"escaped quote, spaces", []string{
			` <https://a.example/p2> ;  title="a \" b" ; rel = "next" `,
		}, []Link{{"https://a.example/p2", []string{"next"}}}, "https://a.example/p2"},
		{"junk value skipped", []string{
			`garbage; rel="next", <https://a.example/ok>; rel="next"`,
		}, []Link{{"https://a.example/ok", []string{"next"}}}, "https://a.example/ok"},
		{"unclosed bracket", []string{`<https://a.example/p2; rel="next"`}, nil, ""},
		{"no rel", []string{`<https://a.example/p2>`}, []Link{{"https://a.example/p2", nil}}, ""},
		{"relative", []string{`</api/v1/logs?after=x>; rel="next"`}, []Link{{"/api/v1/logs?after=x", []string{"next"}}}, "/api/v1/logs?after=x"},
		{"empty", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseLinks(tc.values)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseLinks = %#v, want %#v", got, tc.want)
			}
			h := http.Header{"Link": tc.values}
			if got := NextLink(h); got != tc.next {
				t.Errorf("NextLink = %q, want %q", got, tc.next)
			}
		})
	}
}

func TestRateLimitWait(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	hdr := func(limit, remaining string, resetIn time.Duration, date string) http.Header {
		h := http.Header{}
		if limit != "" {
			h.Set("X-Rate-Limit-Limit", limit)
		}
		if remaining != "" {
			h.Set("X-Rate-Limit-Remaining", remaining)
		}
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(resetIn).Unix(), 10))
		if date != "" {
			h.Set("Date", date)
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"plenty left", hdr("600", "400", 40*time.Second, ""), 0},
		{"under reserve", hdr("600", "59", 40*time.Second, ""), 41 * time.Second},
		{"none left, no limit header", hdr("", "0", 10*time.Second, ""), 11 * time.Second},
		{"one left, no limit header", hdr("", "1", 10*time.Second, ""), 0},
		{"server clock", hdr("600", "0", 40*time.Second, now.Add(30*time.Second).Format(http.TimeFormat)), 11 * time.Second},
		{"reset passed", hdr("600", "0", -5*time.Second, ""), 0},
		{"far reset capped", hdr("600", "0", time.Hour, ""), maxRateLimitWait},
		{"no headers", http.Header{}, 0},
		{"junk", http.Header{"X-Rate-Limit-Remaining": {"-1"}, "X-Rate-Limit-Reset": {"soon"}}, 0},
	} {
		if got := rateLimitWait(tc.h, now, 0.1); got != tc.want {
			t.Errorf("%s: wait = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSignIn(t *testing.T) {
	ev := func(s string) Event {
		t.Helper()
		e, err := DecodeEvent([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		json string
		want signIn
		ok   bool
	}{
		{"saml sso", `{"eventType":"user.authentication.sso","actor":{"type":"User","alternateId":"Ann@Acme.Example"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa1","type":"AppInstance","displayName":"Slack","detailEntry":{"signOnModeType":"SAML_2_0"}},{"id":"0ua1","type":"AppUser"}]}`,
			signIn{"ann@acme.example", "0oa1", "Slack", "saml"}, true},
		{"protocol from debugData", `{"eventType":"user.authentication.sso","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa1","type":"AppInstance","displayName":"X","detailEntry":null}],"debugContext":{"debugData":{"signOnMode":"OpenID Connect"}}}`,
			signIn{"a@b.example", "0oa1", "X", "oidc"}, true},
		{"detailEntry of another type", `{"eventType":"user.authentication.sso","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa1","type":"AppInstance","alternateId":"X","detailEntry":"SAML"}],"debugContext":{"debugData":[1]}}`,
			signIn{"a@b.example", "0oa1", "X", ""}, true},
		{"login name without @", `{"eventType":"user.authentication.sso","actor":{"type":"User","alternateId":"ann"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa1","type":"AppInstance","displayName":"X"}]}`,
			signIn{"", "0oa1", "X", ""}, true},
		{"oauth2 authorize", `{"eventType":"app.oauth2.as.authorize.code","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa5","type":"PublicClientApp","displayName":"Tool"}]}`,
			signIn{"a@b.example", "0oa5", "Tool", "oidc"}, true},
		{"failure", `{"eventType":"user.authentication.sso","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"FAILURE"},
			"target":[{"id":"0oa1","type":"AppInstance","displayName":"X"}]}`, signIn{}, false},
		{"client's own token", `{"eventType":"app.oauth2.as.token.grant.access_token","actor":{"type":"PublicClientApp","alternateId":"Tool"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"AT.1","type":"access_token"}]}`, signIn{}, false},
		{"no app", `{"eventType":"user.authentication.sso","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"},"target":null}`, signIn{}, false},
		{"other event", `{"eventType":"user.session.start","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa1","type":"AppInstance","displayName":"X"}]}`, signIn{}, false},
		{"duplicate key, last wins", `{"eventType":"user.authentication.sso","eventType":"user.session.start","actor":{"type":"User","alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"},
			"target":[{"id":"0oa1","type":"AppInstance","displayName":"X"}]}`, signIn{}, false},
	} {
		e := ev(tc.json)
		got, ok := e.signIn()
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: signIn = %+v, %t; want %+v, %t", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, err := DecodeEvent([]byte(`{"uuid":"x","actor":"a string"}`)); err == nil {
		t.Error("an actor of the wrong type was accepted")
	}
}

func TestProtocolOf(t *testing.T) {
	for in, want := range map[string]string{
		"SAML_2_0": "saml", "SAML_1_1": "saml", "SAML 2.0": "saml", "OPENID_CONNECT": "oidc", "OpenID Connect": "oidc",
		"BROWSER_PLUGIN": "swa", "AUTO_LOGIN": "swa", "BASIC_AUTH": "swa", "SECURE_PASSWORD_STORE": "swa",
		"WS_FEDERATION": "ws_fed", "BOOKMARK": "bookmark", "": "", "SOMETHING_NEW": "",
	} {
		if got := protocolOf(in); got != want {
			t.Errorf("protocolOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeAppOwnAndBad(t *testing.T) {
	cat, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"saasure", "okta_enduser", "okta_browser_plugin", "okta_flow_sso"} {
		_, ok, err := DecodeApp([]byte(`{"id":"0oa1","name":"`+name+`","label":"Okta","status":"ACTIVE"}`), cat)
		if ok || err != nil {
			t.Errorf("%s: ok=%t err=%v, want skipped", name, ok, err)
		}
	}
	for _, bad := range []string{`{"name":"slack"}`, `{"id":"0oa1","features":"PUSH_NEW_USERS"}`, `[`, `null`} {
		if _, ok, err := DecodeApp([]byte(bad), cat); err == nil && ok {
			t.Errorf("%s: accepted", bad)
		}
	}
	// Settings of unexpected types are ignored, not errors.
	a, ok, err := DecodeApp([]byte(`{"id":"0oa1","name":"x","label":"Notion","signOnMode":"SAML_2_0","settings":{"app":{"url":42,"u":["https://www.notion.so/login",7]},"signOn":{"audience":{"x":1}},"oauthClient":null}}`), cat)
	if err != nil || !ok || a.AppID != "notion" || len(a.URLs) != 1 {
		t.Errorf("loose settings: %+v %t %v", a, ok, err)
	}
}

func FuzzParseLinks(f *testing.F) {
	addSeeds(f, "FuzzParseLinks")
	f.Fuzz(func(t *testing.T, s string) {
		links := ParseLinks([]string{s})
		if len(links) > maxLinks {
			t.Fatalf("%d links", len(links))
		}
		for _, l := range links {
			if l.URL == "" || strings.Contains(l.URL, ">") {
				t.Fatalf("bad URL %q", l.URL)
			}
		}
		_ = NextLink(http.Header{"Link": {s, s}})
	})
}

func FuzzDecodeEvent(f *testing.F) {
	addSeeds(f, "FuzzDecodeEvent")
	cat, err := signatures.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	im := &Importer{}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if x, ok := im.evidence(&sources.Env{Catalog: cat}, &e, time.Unix(0, 0).UTC(), nil); ok {
			if x.AppID == "" || x.Person != strings.ToLower(x.Person) || x.Count != 1 {
				t.Fatalf("bad evidence %+v", x)
			}
		}
	})
}

func FuzzDecodeApp(f *testing.F) {
	addSeeds(f, "FuzzDecodeApp")
	cat, err := signatures.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok, err := DecodeApp(b, cat)
		if err != nil || !ok {
			return
		}
		if a.ExternalID == "" || len(a.URLs) > maxAppURLs || (a.AppID == "") != (a.MappedBy == "") {
			t.Fatalf("bad app %+v", a)
		}
	})
}

// addSeeds adds the fixtures' values as seeds beside the committed
// corpus in testdata/fuzz/<target>.
func addSeeds(f *testing.F, target string) {
	switch target {
	case "FuzzParseLinks":
		f.Add(`<https://acme.okta.com/api/v1/logs?after=1>; rel="next"`)
	case "FuzzDecodeEvent":
		for _, raw := range readArray(f, "testdata/system_log.json") {
			f.Add([]byte(raw))
		}
	case "FuzzDecodeApp":
		for _, raw := range readArray(f, "testdata/apps.json") {
			f.Add([]byte(raw))
		}
	}
}
