package web

import (
	"bytes"
	"context"
	"encoding/pem"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
)

// credentialsFixture is a web server whose credentials page writes to a
// real SQLite store and a temporary data directory, for a configuration
// with Okta (token file), Entra (inline), Google and one mailbox.
func credentialsFixture(t *testing.T) (*Server, *pageFixture, string) {
	t.Helper()
	f := newPageFixture(t)
	dir := filepath.Join(t.TempDir(), "credentials")
	cfg := config.Config{File: "/etc/shadowmap/shadowmap.yaml" + hostileAttr}
	cfg.Sources.Okta = config.Okta{URL: "https://acme.okta.com", Token: "config-token", TokenFile: "/etc/shadowmap/okta-token"}
	cfg.Sources.Entra = config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "inline-secret"}
	cfg.Sources.Google = config.Google{CredentialsFile: "/etc/shadowmap/google.json", AdminEmail: "it@acme.example"}
	cfg.Sources.Mail.Mailboxes = []config.Mailbox{{Name: "ap", Username: "ap@acme.example" + hostileScript, Auth: "plain", Password: "pw"}}
	srv, err := New(Options{
		Catalog: f.srv.opts.Catalog, Now: f.srv.opts.Now,
		Credentials: f.store, CredentialsDir: dir, CredentialSlots: CredentialSlotsFromConfig(cfg),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, f, dir
}

// postCredential posts a credential form as multipart, as the page's
// forms are, with an optional uploaded file, as the test admin.
func postCredential(t *testing.T, h func(http.ResponseWriter, *http.Request, session), target string, fields map[string]string, upload []byte) *httptest.ResponseRecorder {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", testSession.CSRF)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if upload != nil {
		fw, err := mw.CreateFormFile("file", "key.json")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(upload)
	}
	mw.Close()
	r := httptest.NewRequest("POST", target, &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	h(rec, r, testSession)
	return rec
}

// TestSetOktaToken: a token set on the page goes to a 0600 file in a 0700
// directory and an override naming it; the page then says who set it
// and when, never the value; Remove deletes both and the page is back to
// the configuration file.
func TestSetOktaToken(t *testing.T) {
	srv, f, dir := credentialsFixture(t)
	ctx := context.Background()
	const token = "00webTokenFromThePage_123"

	rec := postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": collector.CredentialOktaToken, "value": token + "\n"}, nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/settings/credentials?saved=set#sources.okta.token" {
		t.Fatalf("set: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	path := filepath.Join(dir, collector.CredentialOktaToken)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credential file mode %v, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(dir); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("credential directory: %v, %v, want mode 0700", dst, err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != token {
		t.Errorf("file holds %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files, want the credential alone (no temporary file left)", len(entries))
	}
	overrides, err := f.store.CredentialOverrides(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(overrides) != 1 || overrides[0].Key != collector.CredentialOktaToken || overrides[0].File != path || overrides[0].SetBy != testSession.Email {
		t.Fatalf("overrides %+v", overrides)
	}

	rec = f.call(t, srv.credentialsPage, "GET", "/settings/credentials?saved=set", nil, nil)
	body := checkPage(t, "credentials after set", rec)
	if strings.Contains(body, token) {
		t.Fatal("the page shows the token")
	}
	for _, want := range []string{"Set from the web view on 2026-11-25 by it@acme.example", "Credential saved", "Remove",
		"sources.entra.client_secret", "read from <code>/etc/shadowmap/google.json</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	rec = postCredential(t, srv.removeCredential, "/settings/credentials/remove", map[string]string{"key": collector.CredentialOktaToken}, nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("remove: %d\n%s", rec.Code, rec.Body)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the file is still there after Remove: %v", err)
	}
	if overrides, _ := f.store.CredentialOverrides(ctx); len(overrides) != 0 {
		t.Errorf("overrides after Remove: %+v", overrides)
	}
	body = checkPage(t, "credentials after remove", f.call(t, srv.credentialsPage, "GET", "/settings/credentials", nil, nil))
	if strings.Contains(body, "Set from the web view") || !strings.Contains(body, "read from <code>/etc/shadowmap/okta-token</code>") {
		t.Error("after Remove the page does not show the configuration file's token")
	}
	rec = postCredential(t, srv.removeCredential, "/settings/credentials/remove", map[string]string{"key": collector.CredentialOktaToken}, nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("removing it again: %d, want 404", rec.Code)
	}
}

func testServiceAccountKey(t *testing.T) []byte {
	t.Helper()
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a real key, but PEM")})
	return []byte(`{"type":"service_account","client_email":"shadowmap@acme.iam.gserviceaccount.com","private_key":` +
		strings.ReplaceAll(`"`+string(pemKey)+`"`, "\n", `\n`) + `}`)
}

// TestSetGoogleKey: a service-account key is accepted uploaded or
// pasted; anything else is refused in place with what is wrong, and the
// refused value is not echoed.
func TestSetGoogleKey(t *testing.T) {
	srv, f, dir := credentialsFixture(t)
	good := testServiceAccountKey(t)
	rec := postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": collector.CredentialGoogleKey}, good)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("upload a good key: %d\n%s", rec.Code, rec.Body)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, collector.CredentialGoogleKey)); !bytes.Equal(b, good) {
		t.Error("the uploaded key was not written as is")
	}
	rec = postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": collector.CredentialGoogleKey, "value": string(good)}, nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("paste a good key: %d\n%s", rec.Code, rec.Body)
	}

	const leak = "LEAKME-9f8e7d"
	for _, tc := range []struct{ name, value, want string }{
		{"not JSON", "-----BEGIN PRIVATE KEY-----" + leak, "This is not a JSON file"},
		{"user credential", `{"type":"authorized_user","refresh_token":"` + leak + `"}`, "is not a service-account key"},
		{"no email", `{"type":"service_account","private_key":"` + leak + `"}`, "no valid &#34;client_email&#34;"},
		{"no PEM", `{"type":"service_account","client_email":"a@b.example","private_key":"` + leak + `"}`, "no PEM &#34;private_key&#34;"},
		{"empty", "", "Paste the service account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": collector.CredentialGoogleKey, "value": tc.value}, nil)
			body := checkPage(t, tc.name, rec)
			if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
				t.Errorf("%d, want 422 with %q:\n%s", rec.Code, tc.want, body)
			}
			if strings.Contains(body, leak) {
				t.Error("the refused value is shown back")
			}
		})
	}
	overrides, _ := f.store.CredentialOverrides(context.Background())
	if len(overrides) != 1 {
		t.Errorf("overrides %+v, want the good key's alone", overrides)
	}
}

// TestCredentialFormErrors: empty or multi-word tokens are refused in
// place, unknown keys are 404, an oversized body 413, and without a store
// the page has no form and refuses posts.
func TestCredentialFormErrors(t *testing.T) {
	srv, f, _ := credentialsFixture(t)
	for _, tc := range []struct{ key, value, want string }{
		{collector.CredentialOktaToken, "  ", "Enter the new value"},
		{collector.CredentialEntraSecret, "two words", "A token has no spaces"},
		{collector.MailboxCredential("ap"), "pass\x00word", "without control characters"},
	} {
		rec := postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": tc.key, "value": tc.value}, nil)
		body := checkPage(t, tc.key, rec)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s %q: %d, want 422 with %q", tc.key, tc.value, rec.Code, tc.want)
		}
	}
	// A mailbox password may hold spaces.
	if rec := postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": collector.MailboxCredential("ap"), "value": "correct horse"}, nil); rec.Code != http.StatusSeeOther {
		t.Errorf("mailbox password with a space: %d", rec.Code)
	}
	for _, key := range []string{"sources.dns_zone.resolver", "../../etc/passwd", collector.MailboxCredential("other"), hostileScript} {
		if rec := postCredential(t, srv.setCredential, "/settings/credentials", map[string]string{"key": key, "value": "x"}, nil); rec.Code != http.StatusNotFound {
			t.Errorf("set %q: %d, want 404", key, rec.Code)
		}
	}

	big := strings.Repeat("a", maxCredentialFormBytes+1)
	r := httptest.NewRequest("POST", "/settings/credentials", strings.NewReader(big))
	rec := httptest.NewRecorder()
	limitBody(maxCredentialFormBytes, func(w http.ResponseWriter, r *http.Request) { t.Error("an oversized body reached the handler") })(rec, r)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", rec.Code)
	}

	readOnly, err := New(Options{Catalog: f.srv.opts.Catalog, CredentialSlots: srv.opts.CredentialSlots})
	if err != nil {
		t.Fatal(err)
	}
	body := checkPage(t, "read-only", f.call(t, readOnly.credentialsPage, "GET", "/settings/credentials", nil, nil))
	if strings.Contains(body, `action="/settings/credentials"`) || !strings.Contains(body, "Okta API token") {
		t.Error("a server without a credential store shows forms, or no credentials")
	}
	if rec := postCredential(t, readOnly.setCredential, "/settings/credentials", map[string]string{"key": collector.CredentialOktaToken, "value": "x"}, nil); rec.Code != http.StatusNotFound {
		t.Errorf("set without a store: %d, want 404", rec.Code)
	}
}

// TestCredentialsThroughHandler: the routes are registered behind
// sign-in and the body cap.
func TestCredentialsThroughHandler(t *testing.T) {
	srv, _, _ := credentialsFixture(t)
	for _, tc := range []struct {
		method, path string
		body         string
		want         int
	}{
		{"GET", "/settings/credentials", "", http.StatusSeeOther},
		{"POST", "/settings/credentials", "key=x", http.StatusSeeOther},
		{"POST", "/settings/credentials/remove", strings.Repeat("a", maxCredentialFormBytes+1), http.StatusRequestEntityTooLarge},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("%s %s signed out: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
	}
}

// TestEveryFormRouteCapsItsBody: each state-changing route refuses an
// oversized body with 413 before sign-in reads a field from it, so no form
// is parsed under Go's 10 MB default.
func TestEveryFormRouteCapsItsBody(t *testing.T) {
	srv, _, _ := credentialsFixture(t)
	for _, tc := range []struct {
		path  string
		limit int
	}{
		{"/apps/notion/status", maxAppFormBytes},
		{"/apps/notion/notes", maxAppFormBytes},
		{"/apps/status", maxStatusForm},
		{"/settings/enroll-secrets", maxSettingsFormBytes},
		{"/settings/enroll-secrets/revoke", maxSettingsFormBytes},
		{"/settings/digest-recipients", maxSettingsFormBytes},
		{"/settings/retention", maxSettingsFormBytes},
		{"/settings/admins", maxAdminsFormBytes},
		{"/settings/admins/remove", maxAdminsFormBytes},
		{"/settings/credentials", maxCredentialFormBytes},
	} {
		r := httptest.NewRequest("POST", tc.path, strings.NewReader(strings.Repeat("a", tc.limit+1)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, r)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with %d bytes: %d, want 413", tc.path, tc.limit+1, rec.Code)
		}
	}
}
