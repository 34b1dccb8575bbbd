package google

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/internal/golden"
)

func newImporter(t *testing.T, f *fakeGoogle, s *sleeps) *Importer {
	t.Helper()
	imp, err := New(f.config(t), Options{Retry: s.retry()})
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

func TestImportAPI(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	imp := newImporter(t, f, &sleeps{})
	run, err := runImport(t, st, imp)
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, st)
	golden.Check(t, filepath.Join("testdata", "golden", "api_import.txt"), got)
	// 6 token authorize/revoke events with a person, 1 without, 3 saml
	// logins, then 5 users.
	if run.Events != 6+1+3+5 || run.Imported != 6 {
		t.Errorf("run: %d events, %d imported; want 15, 6", run.Events, run.Imported)
	}
	cp, ok, err := st.Checkpoint(context.Background(), Source, checkpointReports)
	if err != nil || !ok || cp != testNow.Format(time.RFC3339Nano) {
		t.Errorf("checkpoint = %q, %v, %v; want %s", cp, ok, err, testNow.Format(time.RFC3339Nano))
	}
	if f.tokens != 1 {
		t.Errorf("%d access tokens fetched, want 1 (cached for the run)", f.tokens)
	}

	// A second run re-reads the overlap and the tokens: nothing new.
	run, err = runImport(t, st, imp)
	if err != nil {
		t.Fatal(err)
	}
	if run.Imported != 0 {
		t.Errorf("second run imported %d rows, want 0", run.Imported)
	}
	if again := dump(t, st); again != got {
		t.Errorf("second run changed the store:\n%s\nwant\n%s", again, got)
	}
	health, err := st.SourceHealth(context.Background())
	if err != nil || len(health) != 1 || health[0].Source != Source || health[0].Runs != 2 || health[0].LastError != "" || health[0].TotalImported != 6 {
		t.Errorf("source health = %+v, %v", health, err)
	}
}

// TestImportResumes fails the third page every attempt, then lets the
// rerun complete: the store ends as after one clean run.
func TestImportResumes(t *testing.T) {
	clean := func() string {
		f := newFakeGoogle(t)
		st := openStore(t)
		if _, err := runImport(t, st, newImporter(t, f, &sleeps{})); err != nil {
			t.Fatal(err)
		}
		return dump(t, st)
	}()

	f := newFakeGoogle(t)
	f.pageSize = 1
	st := openStore(t)
	var pages int
	f.setHook(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !strings.Contains(r.URL.Path, "/applications/token") || r.URL.Query().Get("eventName") != "authorize" {
			return false
		}
		// Count pages that hold events: the third one fails for good.
		if r.URL.Query().Get("pageToken") != "" {
			pages++
			if pages >= 2 {
				writeError(w, http.StatusServiceUnavailable, "backendError", "Backend Error")
				return true
			}
		}
		return false
	})
	imp := newImporter(t, f, &sleeps{})
	run, err := runImport(t, st, imp)
	if err == nil || !strings.Contains(err.Error(), "page 2") || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("err = %v; want a 503 on a second page", err)
	}
	cp, ok, _ := st.Checkpoint(context.Background(), Source, checkpointReports)
	if !ok {
		t.Fatal("no checkpoint after the windows before the failure")
	}
	stopped, _ := time.Parse(time.RFC3339Nano, cp)
	if !stopped.Before(testNow) || run.Error == "" {
		t.Errorf("checkpoint %s moved past the failed window, or the run recorded no error (%q)", cp, run.Error)
	}
	health, _ := st.SourceHealth(context.Background())
	if len(health) != 1 || health[0].Failures != 1 || !strings.Contains(health[0].LastError, "503") {
		t.Errorf("health after failure = %+v", health)
	}

	f.setHook(nil)
	if _, err := runImport(t, st, imp); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, st); got != clean {
		t.Errorf("after resume:\n%s\nwant (clean run):\n%s", got, clean)
	}
}

func TestRetries(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	s := &sleeps{}
	f.setHook(func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "7")
			writeError(w, http.StatusTooManyRequests, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries'")
			return true
		case 3:
			writeError(w, http.StatusInternalServerError, "backendError", "Internal error encountered.")
			return true
		}
		return false
	})
	if _, err := runImport(t, st, newImporter(t, f, s)); err != nil {
		t.Fatal(err)
	}
	if len(s.waits) != 2 || s.waits[0] != 7*time.Second {
		t.Errorf("waits = %v; want Retry-After's 7s, then a backoff", s.waits)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "api_import.txt"), dump(t, st))
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		tokenErr string
		hook     func(w http.ResponseWriter, r *http.Request, n int) bool
		want     []string
	}{
		{
			name:     "delegation missing",
			tokenErr: "unauthorized_client",
			want:     []string{"Domain-wide delegation", testClientEmail, "admin.reports.audit.readonly", "unauthorized_client"},
		},
		{
			name:     "key deleted",
			tokenErr: "invalid_grant",
			want:     []string{"admin_email is an existing admin", "invalid_grant"},
		},
		{
			name: "token expired",
			hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
				writeError(w, http.StatusUnauthorized, "authError", "Invalid Credentials")
				return true
			},
			want: []string{"HTTP 401", "refused the access token", "page 1"},
		},
		{
			name: "not an admin",
			hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
				writeError(w, http.StatusForbidden, "forbidden", "Not Authorized to access this resource/api")
				return true
			},
			want: []string{"HTTP 403", testAdmin, "admin.directory.user.security", "Not Authorized"},
		},
		{
			name: "truncated page",
			hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"kind":"admin#reports#activities","items":[{"kind":"admin#reports#activity","id":{"time":"2026-11-`))
				return true
			},
			want: []string{"page 1", "unexpected end of JSON input"},
		},
		{
			name: "users forbidden",
			hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.URL.Path == "/admin/directory/v1/users" {
					writeError(w, http.StatusForbidden, "forbidden", "Not Authorized to access this resource/api")
					return true
				}
				return false
			},
			want: []string{"google users page 1", "HTTP 403"},
		},
		{
			name: "tokens of a user fail",
			hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if strings.HasSuffix(r.URL.Path, "carol@acme.example/tokens") {
					writeError(w, http.StatusBadRequest, "invalid", "Invalid Input")
					return true
				}
				return false
			},
			want: []string{"google tokens of carol@acme.example", "HTTP 400"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGoogle(t)
			f.tokenErr = tt.tokenErr
			f.setHook(tt.hook)
			st := openStore(t)
			_, err := runImport(t, st, newImporter(t, f, &sleeps{}))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, secret := range []string{testAccessToken, "PRIVATE KEY", "eyJ"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows %q", err, secret)
				}
			}
			if tt.hook != nil && !strings.Contains(tt.name, "tokens") && !strings.Contains(tt.name, "users") {
				if _, ok, _ := st.Checkpoint(context.Background(), Source, checkpointReports); ok {
					t.Error("checkpoint moved though the first page failed")
				}
			}
			var ae *sources.APIError
			if tt.name != "truncated page" && !errors.As(err, &ae) {
				t.Errorf("error %v is not an *sources.APIError", err)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.setHook(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 4 {
			cancel()
		}
		return false
	})
	imp := newImporter(t, f, &sleeps{})
	r := &sources.Runner{Stores: st, Runs: st, Catalog: testCatalog(t), Now: func() time.Time { return testNow }, HTTP: &http.Client{}}
	if _, err := r.Run(ctx, imp, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	f.setHook(nil)
	if _, err := runImport(t, st, imp); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "api_import.txt"), dump(t, st))
}

func TestNew(t *testing.T) {
	f := newFakeGoogle(t)
	good := f.config(t)
	notKey := filepath.Join(t.TempDir(), "user.json")
	writeFile(t, notKey, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"do-not-show","refresh_token":"1//secret"}`))
	tests := []struct {
		name string
		cfg  func(c config.Google) config.Google
		want string
	}{
		{"no file", func(c config.Google) config.Google { c.CredentialsFile = ""; return c }, "credentials_file is required"},
		{"missing file", func(c config.Google) config.Google {
			c.CredentialsFile = filepath.Join(t.TempDir(), "nope.json")
			return c
		}, "read service account key"},
		{"user credentials", func(c config.Google) config.Google { c.CredentialsFile = notKey; return c }, "not a service account key"},
		{"no admin", func(c config.Google) config.Google { c.AdminEmail = "admin"; return c }, "admin_email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg(good), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "do-not-show") || strings.Contains(err.Error(), "1//secret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
	imp, err := New(config.Google{CredentialsFile: good.CredentialsFile, AdminEmail: testAdmin, Backfill: 400 * 24 * time.Hour}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if imp.customer != "my_customer" || imp.backfill != maxBackfill || imp.opts.Concurrency != 4 || imp.Name() != "google" {
		t.Errorf("defaults: %+v", imp)
	}
}

// TestUserGone: a user deleted between users.list and tokens.list has no
// tokens, and the import goes on.
func TestUserGone(t *testing.T) {
	f := newFakeGoogle(t)
	st := openStore(t)
	f.setHook(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "erin@acme.example/tokens") {
			writeError(w, http.StatusNotFound, "notFound", "Resource Not Found: userKey")
			return true
		}
		return false
	})
	if _, err := runImport(t, st, newImporter(t, f, &sleeps{})); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "api_import.txt"), dump(t, st))
}
