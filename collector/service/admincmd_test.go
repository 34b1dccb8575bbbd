package service

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/web"
)

// writeFile writes a password file into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAdminCommand runs `shadowmap admin create` as IT would, against a
// real database file.
func TestAdminCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "shadowmap.db")
	env := []string{"SHADOWMAP_DATABASE=" + db}
	good := writeFile(t, dir, "good", "correct horse battery staple\r\n")
	short := writeFile(t, dir, "short", "eleven char\n")
	empty := writeFile(t, dir, "empty", "\n")

	run := func(stdin string, args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := AdminCommand(strings.NewReader(stdin), &stdout, &stderr, env).Run(args)
		return stdout.String(), err
	}

	// Refusals before anything is written: no database file appears.
	refusals := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no subcommand", "", nil, "shadowmap admin create --email"},
		{"other subcommand", "", []string{"remove"}, "shadowmap admin create --email"},
		{"list on no database", "", []string{"list"}, "database " + db},
		{"delete on no database", "", []string{"delete", "--email", "it@example.com"}, "database " + db},
		{"password on no database", "", []string{"password", "--email", "it@example.com", "--password-file", good}, "database " + db},
		{"no email", "", []string{"create", "--password-file", good}, "--email"},
		{"bad email", "", []string{"create", "--email", "not an email", "--password-file", good}, "plain email address"},
		{"too short", "", []string{"create", "--email", "it@example.com", "--password-file", short}, "at least 12 characters"},
		{"empty file", "", []string{"create", "--email", "it@example.com", "--password-file", empty}, "first line is empty"},
		{"missing file", "", []string{"create", "--email", "it@example.com", "--password-file", filepath.Join(dir, "nope")}, "read password file"},
		{"empty stdin", "", []string{"create", "--email", "it@example.com"}, "no password on standard input"},
		{"extra argument", "", []string{"create", "--email", "it@example.com", "extra"}, "unexpected argument"},
	}
	for _, tt := range refusals {
		if _, err := run(tt.stdin, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
	if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused command created the database: %v", err)
	}

	out, err := run("", "create", "--email", "IT@Example.com", "--password-file", good)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "created admin it@example.com") || !strings.Contains(out, "/signin") {
		t.Errorf("output %q", out)
	}
	if _, err := run("", "create", "--email", "it@example.com", "--password-file", good); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("duplicate email: %v", err)
	}
	// A password piped on standard input, for scripts.
	if _, err := run("another password here\n", "create", "--email", "second@example.com"); err != nil {
		t.Fatalf("password on stdin: %v", err)
	}

	st, err := sqlite.Open(context.Background(), db, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for email, password := range map[string]string{"it@example.com": "correct horse battery staple", "second@example.com": "another password here"} {
		a, err := st.Account(context.Background(), email)
		if err != nil {
			t.Fatalf("account %s: %v", email, err)
		}
		if ok, err := web.VerifyPassword(a.PasswordHash, password); !ok || err != nil {
			t.Errorf("%s: the stored hash does not verify the password (%v, %v)", email, ok, err)
		}
	}
}

// TestAdminManage runs `shadowmap admin list`, `delete` and `password`
// against a real database file, in order: each step sees the last one's
// result.
func TestAdminManage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "shadowmap.db")
	env := []string{"SHADOWMAP_DATABASE=" + db}
	newPassword := writeFile(t, dir, "new", "a brand new passphrase\n")
	short := writeFile(t, dir, "short", "eleven char\n")

	st, err := sqlite.Open(ctx, db, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i, email := range []string{"zed@example.com", "ann@example.com"} {
		if err := web.CreateAdmin(ctx, st, email, "correct horse battery staple", created.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	annSession := []byte("0123456789abcdef0123456789abcdef")
	zedSession := []byte("fedcba9876543210fedcba9876543210")
	for email, tok := range map[string][]byte{"ann@example.com": annSession, "zed@example.com": zedSession} {
		if err := st.CreateSession(ctx, collector.Session{TokenHash: tok, Email: email, CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
	}

	steps := []struct {
		name    string
		stdin   string
		args    []string
		wantOut []string // in this order
		wantErr string
	}{
		{"list", "", []string{"list"}, []string{"EMAIL", "CREATED", "ann@example.com", "2026-11-02T10:00:00Z", "zed@example.com", "2026-11-02T09:00:00Z"}, ""},
		{"list takes no email", "", []string{"list", "--email", "x@example.com"}, nil, "flag provided but not defined"},
		{"delete without email", "", []string{"delete"}, nil, "--email"},
		{"delete unknown", "", []string{"delete", "--email", "nobody@example.com"}, nil, "no admin nobody@example.com"},
		{"password unknown", "", []string{"password", "--email", "nobody@example.com", "--password-file", newPassword}, nil, "no admin nobody@example.com"},
		{"password too short", "", []string{"password", "--email", "ann@example.com", "--password-file", short}, nil, "at least 12 characters"},
		{"password from file", "", []string{"password", "--email", "ANN@example.com", "--password-file", newPassword}, []string{"changed the password of ann@example.com"}, ""},
		{"password on stdin", "piped password for zed\n", []string{"password", "--email", "zed@example.com"}, []string{"changed the password of zed@example.com"}, ""},
		{"delete", "", []string{"delete", "--email", "Zed@Example.com"}, []string{"deleted admin zed@example.com"}, ""},
		{"delete the last", "", []string{"delete", "--email", "ann@example.com"}, nil, "ann@example.com is the last admin"},
		{"list after delete", "", []string{"list"}, []string{"ann@example.com"}, ""},
	}
	for _, tt := range steps {
		var stdout, stderr bytes.Buffer
		err := AdminCommand(strings.NewReader(tt.stdin), &stdout, &stderr, env).Run(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		out := stdout.String()
		rest := out
		for _, w := range tt.wantOut {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: output %q lacks %q (in order)", tt.name, out, w)
				break
			}
			rest = rest[i+len(w):]
		}
		if strings.Contains(out, "argon2id") || strings.Contains(out, "passphrase") {
			t.Errorf("%s: output shows a password or hash: %q", tt.name, out)
		}
	}

	ann, err := st.Account(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := web.VerifyPassword(ann.PasswordHash, "a brand new passphrase"); !ok || err != nil {
		t.Errorf("ann's new password does not verify (%v, %v)", ok, err)
	}
	if _, err := st.Session(ctx, annSession); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("ann's session survived the password reset: %v", err)
	}
	if _, err := st.Account(ctx, "zed@example.com"); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("zed survived delete: %v", err)
	}
	if list, err := st.ListAccounts(ctx); err != nil || len(list) != 1 {
		t.Errorf("admins left: %+v, %v; want ann only", list, err)
	}
}

func TestSetupBaseURL(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"[::]:8443", "http://[::1]:8443"},
		{"[2001:db8::1]:8080", "http://[2001:db8::1]:8080"},
		{"10.0.0.5:80", "http://10.0.0.5:80"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := setupBaseURL("http", addr); got != tt.want {
			t.Errorf("setupBaseURL(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestLogSetupLink: a first start logs a link; once an admin exists,
// nothing.
func TestLogSetupLink(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shadowmap.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	view, err := web.New(web.Options{Accounts: st})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	addr := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	logSetupLink(ctx, log, view, "https", addr)
	if !strings.Contains(logs.String(), `url="https://127.0.0.1:8080/setup?token=`) {
		t.Fatalf("first start logged %q", logs.String())
	}
	if err := web.CreateAdmin(ctx, st, "it@example.com", "correct horse battery staple", time.Now()); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	logSetupLink(ctx, log, view, "https", addr)
	if logs.Len() != 0 {
		t.Errorf("start with an admin logged %q", logs.String())
	}
}
