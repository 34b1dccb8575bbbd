package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// fakeStore is an MDM store held in memory.
type fakeStore map[string]any

func (fakeStore) Location() string                  { return "MDM" }
func (s fakeStore) Values() (map[string]any, error) { return s, nil }

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask must not decide the test
		t.Fatal(err)
	}
	return path
}

func parseFlags(t *testing.T, args ...string) *Flags {
	t.Helper()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPrecedence(t *testing.T) {
	const (
		fromFlag = "https://flag.example.com"
		fromEnv  = "https://env.example.com"
		fromMDM  = "https://mdm.example.com"
		fromFile = "https://file.example.com"
	)
	tests := []struct {
		name                 string
		flag, env, mdm, file bool
		wantValue            string
		wantSource           Source
		wantWhere            string
	}{
		{"all", true, true, true, true, fromFlag, SourceFlag, "flag -collector"},
		{"env over mdm and file", false, true, true, true, fromEnv, SourceEnv, "environment SHADOWMAP_AGENT_COLLECTOR"},
		{"mdm over file", false, false, true, true, fromMDM, SourceMDM, "MDM profile MDM key CollectorURL"},
		{"file alone", false, false, false, true, fromFile, SourceFile, "config file {file} line 1"},
		{"flag over file", true, false, false, true, fromFlag, SourceFlag, "flag -collector"},
		{"none", false, false, false, false, "", SourceDefault, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var opts Options
			opts.DefaultConfigPath = filepath.Join(dir, "absent.yaml")
			var args []string
			if tt.flag {
				args = append(args, "-collector", fromFlag)
			}
			opts.Flags = parseFlags(t, args...)
			env := map[string]string{}
			if tt.env {
				env["SHADOWMAP_AGENT_COLLECTOR"] = fromEnv
			}
			opts.Getenv = envOf(env)
			if tt.mdm {
				opts.Managed = fakeStore{"CollectorURL": fromMDM}
			}
			if tt.file {
				opts.DefaultConfigPath = writeFile(t, dir, "agent.yaml", "collector_url: "+fromFile+"\n", 0o600)
			}
			s, _ := Load(opts)
			wantWhere := strings.ReplaceAll(tt.wantWhere, "{file}", opts.DefaultConfigPath)
			got := s.CollectorURL
			if got.Value != tt.wantValue || got.Source != tt.wantSource || got.Where() != wantWhere {
				t.Errorf("got %q from %s (%s), want %q from %s (%s)", got.Value, got.Source, got.Where(), tt.wantValue, tt.wantSource, wantWhere)
			}
		})
	}
}

// TestEachSettingFromEachSource: every setting a source can carry comes
// through Load with that source recorded.
func TestEachSettingFromEachSource(t *testing.T) {
	values := map[key]string{
		keyCollectorURL: "https://c.example.com", keyOwnerEmail: "a@example.com", keyUser: "alice",
		keyInterfaces: "en0", keyFlushInterval: "60", keyStateDir: t.TempDir(), keyMemoryLimit: "32MiB",
		keyCPUPercent: "7", keyResolverMode: "forward", keyUnknownDomains: "true", keyLogLevel: "warn",
		keyEnrollSecret: "s3cret", keyOwnDomains: "acme.com",
	}
	settingSource := func(s *Settings, k key) Source {
		return map[key]Source{
			keyCollectorURL: s.CollectorURL.Source, keyOwnerEmail: s.OwnerEmail.Source, keyUser: s.User.Source,
			keyInterfaces: s.Interfaces.Source, keyFlushInterval: s.FlushInterval.Source, keyStateDir: s.StateDir.Source,
			keyMemoryLimit: s.MemoryLimit.Source, keyCPUPercent: s.CPUPercent.Source, keyResolverMode: s.ResolverMode.Source,
			keyUnknownDomains: s.UnknownDomains.Source, keyLogLevel: s.LogLevel.Source, keyEnrollSecret: s.EnrollSecret.Source,
			keyOwnDomains: s.OwnDomains.Source,
		}[k]
	}
	for k, text := range values {
		info := keys[k]
		sources := map[Source]func(t *testing.T, dir string) Options{
			SourceFile: func(t *testing.T, dir string) Options {
				return Options{DefaultConfigPath: writeFile(t, dir, "a.yaml", fmt.Sprintf("%s: %q\n", info.yaml, text), 0o600)}
			},
			SourceEnv: func(t *testing.T, dir string) Options {
				return Options{Getenv: envOf(map[string]string{info.env: text})}
			},
		}
		if info.flag != "" {
			sources[SourceFlag] = func(t *testing.T, dir string) Options { return Options{Flags: parseFlags(t, "-"+info.flag+"="+text)} }
		}
		if info.managed != "" {
			sources[SourceMDM] = func(t *testing.T, dir string) Options { return Options{Managed: fakeStore{info.managed: text}} }
		}
		for src, mk := range sources {
			t.Run(info.label+"/"+string(src), func(t *testing.T) {
				dir := t.TempDir()
				opts := mk(t, dir)
				if opts.DefaultConfigPath == "" {
					opts.DefaultConfigPath = filepath.Join(dir, "absent.yaml")
				}
				s, err := Load(opts)
				var ps Problems
				if err != nil && !errors.As(err, &ps) {
					t.Fatalf("Load error is %T, not Problems", err)
				}
				for _, p := range ps {
					if p.Setting == info.label {
						t.Errorf("problem: %s", p)
					}
				}
				if got := settingSource(s, k); got != src {
					t.Errorf("source = %s, want %s", got, src)
				}
			})
		}
	}
}

// TestFullFile loads a file with every setting and checks the redacted view.
func TestFullFile(t *testing.T) {
	s, err := Load(Options{DefaultConfigPath: "testdata/full.yaml", Getenv: envOf(map[string]string{"USER": "root"})})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/full.golden", s.String())
	if got := s.EnrollSecret.Value.Reveal(); got != "file-secret-d41d8cd98f00b204" {
		t.Errorf("secret = %q", got)
	}
	if !s.ConfigFileExists || s.ConfigFile != "testdata/full.yaml" {
		t.Errorf("config file %q exists=%v", s.ConfigFile, s.ConfigFileExists)
	}
}

// TestMDMOverFile layers the committed MDM plist over the committed file.
func TestMDMOverFile(t *testing.T) {
	for _, plistFile := range []string{"testdata/managed.plist", "testdata/managed.binary.plist"} {
		s, err := Load(Options{DefaultConfigPath: "testdata/full.yaml", Managed: PlistFile(plistFile)})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString(s.String())
		for _, w := range s.Warnings {
			b.WriteString("warning: " + strings.ReplaceAll(w, plistFile, "PLIST") + "\n")
		}
		golden.Check(t, "testdata/mdm_over_file.golden", strings.ReplaceAll(b.String(), plistFile, "PLIST"))
		if got := s.EnrollSecret.Value.Reveal(); got != "mdm-secret-8f14e45fceea167a" {
			t.Errorf("%s: secret = %q, want the MDM one", plistFile, got)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Load(Options{
		DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml"),
		Getenv: envOf(map[string]string{"SHADOWMAP_AGENT_COLLECTOR": "http://127.0.0.1:8080", "SHADOWMAP_AGENT_ENROLL_SECRET": "x",
			"SUDO_USER": "alice", "USER": "root"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.FlushInterval.Value != DefaultFlushInterval || s.CPUPercent.Value != DefaultCPUPercent || s.MemoryLimit.Value != DefaultMemoryLimit ||
		s.ResolverMode.Value != ResolverOff || s.UnknownDomains.Value || s.LogLevel.Value != slog.LevelInfo || s.StateDir.Value != DefaultStateDir(nil) {
		t.Errorf("defaults: %s", s)
	}
	if s.User.Value != "alice" || s.User.Where() != "default from $SUDO_USER" {
		t.Errorf("user %q from %s, want the sudo user", s.User.Value, s.User.Where())
	}
	if s.ConfigFileExists {
		t.Error("absent default file reported as existing")
	}
}

// TestValidation loads a file with every kind of mistake and checks that
// all of them come back together, as text a person can act on.
func TestValidation(t *testing.T) {
	s, err := Load(Options{DefaultConfigPath: "testdata/bad.yaml"})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	if s == nil || s.CollectorURL.Value == "" {
		t.Fatal("settings not returned alongside the problems")
	}
	golden.Check(t, "testdata/validation.golden", err.Error()+"\n")

	// Problems survive a trip through the status file as JSON.
	j, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	var back Problems
	if err := json.Unmarshal(j, &back); err != nil || back.Error() != ps.Error() {
		t.Errorf("round trip: %v\n%s", err, back)
	}
	if len(ps.Lines()) != len(ps) {
		t.Errorf("%d lines for %d problems", len(ps.Lines()), len(ps))
	}
}

func TestCollectorURL(t *testing.T) {
	tests := []struct {
		url, want string // want: substring of the problem, "" for none
	}{
		{"https://shadowmap.example.com", ""},
		{"https://shadowmap.example.com:8443/base", ""},
		{"http://localhost:8080", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://[::1]:8080", ""},
		{"http://shadowmap.example.com", "https is required unless the collector is on this machine"},
		{"shadowmap.example.com", "not an absolute http(s) URL"},
		{"ftp://shadowmap.example.com", "not an absolute http(s) URL"},
		{"https://", "has no host"},
		{"https://u:hunter2@shadowmap.example.com", "must not hold a user name or password"},
		{"https://shadowmap.example.com/?x=1", "query or fragment"},
		{"https://exa mple.com:x", "is not a URL"},
	}
	for _, tt := range tests {
		got := checkCollectorURL(tt.url)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.url, got, tt.want)
		}
		if strings.Contains(got, "hunter2") {
			t.Errorf("%q: message shows the password: %s", tt.url, got)
		}
	}
}

func TestMissingEverything(t *testing.T) {
	_, err := Load(Options{DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml")})
	golden.Check(t, "testdata/missing.golden", err.Error()+"\n")
}

func TestConfigFileProblems(t *testing.T) {
	dir := t.TempDir()
	typo := "testdata/typo.yaml"
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"typo", Options{DefaultConfigPath: typo}, "line 3: field flush_intervall not found"},
		{"named by flag and missing", Options{Flags: parseFlags(t, "-config", filepath.Join(dir, "nope.yaml"))}, "no such file"},
		{"named by env and missing", Options{Getenv: envOf(map[string]string{configEnv: filepath.Join(dir, "nope.yaml")})}, "no such file"},
		{"a directory", Options{DefaultConfigPath: dir}, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.opts)
			var ps Problems
			if !errors.As(err, &ps) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	private := writeFile(t, dir, "private", "  s3cret-from-file\n", 0o600)
	shared := writeFile(t, dir, "shared", "s3cret-from-file\n", 0o644)
	empty := writeFile(t, dir, "empty", "\n", 0o600)
	inlineShared := writeFile(t, dir, "inline.yaml", "enroll_secret: s3cret-inline\n", 0o644)
	tests := []struct {
		name       string
		env        map[string]string
		configFile string
		wantSecret string
		warnings   int
		problem    string
	}{
		{name: "private file", env: map[string]string{"SHADOWMAP_AGENT_ENROLL_SECRET_FILE": private}, wantSecret: "s3cret-from-file"},
		{name: "file others can read", env: map[string]string{"SHADOWMAP_AGENT_ENROLL_SECRET_FILE": shared}, wantSecret: "s3cret-from-file", warnings: 1},
		{name: "secret inline in a config file others can read", configFile: inlineShared, wantSecret: "s3cret-inline", warnings: 1},
		{name: "env secret beats file secret", env: map[string]string{"SHADOWMAP_AGENT_ENROLL_SECRET": "s3cret-env"}, configFile: inlineShared, wantSecret: "s3cret-env"},
		{name: "both in one source", env: map[string]string{"SHADOWMAP_AGENT_ENROLL_SECRET": "a", "SHADOWMAP_AGENT_ENROLL_SECRET_FILE": private}, problem: "not both"},
		{name: "missing file", env: map[string]string{"SHADOWMAP_AGENT_ENROLL_SECRET_FILE": filepath.Join(dir, "nope")}, problem: "no such file"},
		{name: "empty file", env: map[string]string{"SHADOWMAP_AGENT_ENROLL_SECRET_FILE": empty}, problem: "enroll secret (from environment SHADOWMAP_AGENT_ENROLL_SECRET_FILE: " + empty + "): is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SHADOWMAP_AGENT_COLLECTOR": "https://c.example.com"}
			for k, v := range tt.env {
				env[k] = v
			}
			cf := tt.configFile
			if cf == "" {
				cf = filepath.Join(dir, "absent.yaml")
			}
			s, err := Load(Options{Getenv: envOf(env), DefaultConfigPath: cf})
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("error = %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.EnrollSecret.Value.Reveal(); got != tt.wantSecret {
				t.Errorf("secret = %q, want %q", got, tt.wantSecret)
			}
			if runtime.GOOS == "windows" {
				tt.warnings = 0 // files carry ACLs there, not mode bits
			}
			if len(s.Warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", s.Warnings, tt.warnings)
			}
		})
	}
}

// TestBadValueKeepsDefault: a value that does not parse is reported where
// it is, and the setting stays at its default rather than half-set.
func TestBadValueKeepsDefault(t *testing.T) {
	s, err := Load(Options{
		DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml"),
		Getenv:            envOf(map[string]string{"SHADOWMAP_AGENT_FLUSH_INTERVAL": "soon"}),
	})
	if err == nil || !strings.Contains(err.Error(), `flush interval (from environment SHADOWMAP_AGENT_FLUSH_INTERVAL): "soon" is not a duration`) {
		t.Fatalf("error = %v", err)
	}
	if s.FlushInterval.Value != DefaultFlushInterval || s.FlushInterval.Source != SourceDefault {
		t.Errorf("flush interval = %v from %s", s.FlushInterval.Value, s.FlushInterval.Source)
	}
}
