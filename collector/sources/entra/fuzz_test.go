package entra

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// checkEvidence holds for every row made from outside bytes.
func checkEvidence(t *testing.T, e collector.Evidence) {
	t.Helper()
	if e.AppID == "" || e.Source != collector.SourceSSOLogin || e.Count != 1 {
		t.Fatalf("bad evidence %+v", e)
	}
	if e.Person != strings.ToLower(e.Person) || !strings.Contains(e.Person, "@") || strings.Contains(e.Person, "#ext#") {
		t.Fatalf("bad person %q", e.Person)
	}
	if _, err := time.Parse(time.DateOnly, e.Day); err != nil || e.Day != e.FirstSeen.UTC().Format(time.DateOnly) {
		t.Fatalf("bad day %q for %v", e.Day, e.FirstSeen)
	}
	if !strings.HasPrefix(e.DedupeKey, Name+":") || len(e.DedupeKey) <= len(Name)+1 {
		t.Fatalf("bad dedupe key %q", e.DedupeKey)
	}
}

// FuzzDecodeSignInFile feeds Graph sign-in pages (API answers and saved
// files) to the decoder and the evidence builder.
func FuzzDecodeSignInFile(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzDecodeSignInFile (small pages, so the
	// fuzzer mutates fast).
	cat := catalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		events, bad, err := decodeSignInFile(data)
		if err != nil {
			if len(events) != 0 || bad != 0 {
				t.Fatal("events returned with an error")
			}
			return
		}
		for _, s := range events {
			e, ok, err := signInEvidence(cat, nil, s)
			if err != nil || !ok {
				continue
			}
			checkEvidence(t, e)
		}
	})
}

// FuzzDecodeSignInCSV feeds sign-in CSV exports in any encoding.
func FuzzDecodeSignInCSV(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzDecodeSignInCSV (UTF-8, UTF-16,
	// Windows-1252).
	cat := catalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		events, _, err := decodeSignInCSV(data)
		if err != nil {
			return
		}
		for _, s := range events {
			if s.ID == "" {
				t.Fatal("a row without a request id")
			}
			e, ok, err := signInEvidence(cat, nil, s)
			if err != nil || !ok {
				continue
			}
			checkEvidence(t, e)
		}
	})
}

// FuzzServicePrincipal feeds service principals to the IdP app builder.
func FuzzServicePrincipal(f *testing.F) {
	f.Add([]byte(`{"id":"1","appId":"3b8f1c2d-7a6e-4f5d-9c8b-1a2b3c4d5e6f","displayName":"Slack","preferredSingleSignOnMode":"saml","replyUrls":["https://contoso.slack.com/sso/saml"],"tags":["WindowsAzureActiveDirectoryIntegratedApp"]}`))
	cat := catalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var sp servicePrincipal
		if json.Unmarshal(data, &sp) != nil {
			return
		}
		a, ok := idpApp(cat, sp)
		if !ok {
			return
		}
		if a.IdP != Name || a.ExternalID == "" || (a.AppID == "") != (a.MappedBy == "") {
			t.Fatalf("bad idp app %+v", a)
		}
	})
}

// FuzzExplain feeds error bodies of the token endpoint and Graph.
func FuzzExplain(f *testing.F) {
	f.Add(401, []byte(`{"error":"invalid_client","error_description":"AADSTS7000222: expired"}`))
	f.Add(403, []byte(`{"error":{"code":"Authentication_RequestFromNonPremiumTenantOrB2CTenant","message":"Neither tenant is B2C or tenant doesn't have premium license"}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		_ = explainToken(status, body)
		_ = explainGraph("AuditLog.Read.All")(status, body)
	})
}
