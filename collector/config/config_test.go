package config

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	d := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", d.Listen, "127.0.0.1:8080"},
		{"data_dir", d.DataDir, "./data"},
		{"database", d.Database, "." + string(filepath.Separator) + "data" + string(filepath.Separator) + "shadowmap.db"},
		{"tls", d.TLS, TLS{}},
		{"log", d.Log, Log{Format: "text", Level: "info"}},
		{"ingest", d.Ingest, Ingest{RateLimit: 2, Burst: 10, MaxBodyBytes: 1 << 20}},
		{"retention.evidence", d.Retention.Evidence.String(), "90d"},
		{"retention.aggregates", d.Retention.Aggregates.String(), "13mo"},
		{"retention.purge_interval", d.Retention.PurgeInterval, time.Hour},
		{"unknown_domain_k", d.UnknownDomainK, 3},
		{"email_domain", d.EmailDomain, ""},
		{"shutdown_timeout", d.ShutdownTimeout, 15 * time.Second},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}

	// No file, no variables, no flags: the defaults, with a nudge to set
	// credentials.
	loaded := mustLoad(t, "", nil, nil)
	warnings := loaded.Warnings
	loaded.Warnings = nil
	if !reflect.DeepEqual(loaded, d) {
		t.Errorf("Load with nothing = %+v, want %+v", loaded, d)
	}
	for _, want := range []string{"no active enroll secret", "no active admin token"} {
		if !hasWarning(Config{Warnings: warnings}, want) {
			t.Errorf("warnings %q lack %q", warnings, want)
		}
	}
	if len(warnings) != 2 {
		t.Errorf("warnings = %q, want just the two about credentials", warnings)
	}
}

// TestPrecedence sets each key at every layer in turn: the default, the
// file, the environment, the flags. The highest layer present wins.
func TestPrecedence(t *testing.T) {
	keys := []struct {
		key      string
		get      func(Config) string
		def      string
		fileYAML string // sets fileVal
		fileVal  string
		envVar   string
		envVal   string
		flag     string // "" when the key has none
		flagVal  string
	}{
		{"listen", func(c Config) string { return c.Listen }, "127.0.0.1:8080",
			"listen: 127.0.0.1:9001", "127.0.0.1:9001", "SHADOWMAP_LISTEN", "127.0.0.1:9002", "listen", "127.0.0.1:9003"},
		{"data_dir", func(c Config) string { return c.DataDir }, "./data",
			"data_dir: /srv/file", "/srv/file", "SHADOWMAP_DATA_DIR", "/srv/env", "data-dir", "/srv/flag"},
		{"database", func(c Config) string { return c.Database }, "./data/shadowmap.db",
			"database: /db/file.db", "/db/file.db", "SHADOWMAP_DATABASE", "/db/env.db", "database", "/db/flag.db"},
		{"log.format", func(c Config) string { return c.Log.Format }, "text",
			"log: {format: json}", "json", "SHADOWMAP_LOG_FORMAT", "text", "log-format", "json"},
		{"log.level", func(c Config) string { return c.Log.Level }, "info",
			"log: {level: warn}", "warn", "SHADOWMAP_LOG_LEVEL", "error", "log-level", "debug"},
		{"email_domain", func(c Config) string { return c.EmailDomain }, "",
			"email_domain: file.example", "file.example", "SHADOWMAP_EMAIL_DOMAIN", "env.example", "", ""},
		{"unknown_domain_k", func(c Config) string { return strconv.Itoa(c.UnknownDomainK) }, "3",
			"unknown_domain_k: 4", "4", "SHADOWMAP_UNKNOWN_DOMAIN_K", "5", "", ""},
		{"ingest.burst", func(c Config) string { return strconv.Itoa(c.Ingest.Burst) }, "10",
			"ingest: {burst: 2}", "2", "SHADOWMAP_INGEST_BURST", "3", "", ""},
		{"retention.evidence", func(c Config) string { return c.Retention.Evidence.String() }, "90d",
			"retention: {evidence: 30d}", "30d", "SHADOWMAP_RETENTION_EVIDENCE", "14d", "", ""},
		{"retention.purge_interval", func(c Config) string { return c.Retention.PurgeInterval.String() }, "1h0m0s",
			"retention: {purge_interval: 10m}", "10m0s", "SHADOWMAP_RETENTION_PURGE_INTERVAL", "2h0m0s", "", ""},
		{"shutdown_timeout", func(c Config) string { return c.ShutdownTimeout.String() }, "15s",
			"shutdown_timeout: 30s", "30s", "SHADOWMAP_SHUTDOWN_TIMEOUT", "45s", "", ""},
	}
	for _, k := range keys {
		layers := []struct {
			name                     string
			file, env, flag          bool
			want                     string
			skipWithoutFlagOnThisKey bool
		}{
			{"default", false, false, false, k.def, false},
			{"file", true, false, false, k.fileVal, false},
			{"env", false, true, false, k.envVal, false},
			{"file+env", true, true, false, k.envVal, false},
			{"flag", false, false, true, k.flagVal, true},
			{"env+flag", false, true, true, k.flagVal, true},
			{"file+env+flag", true, true, true, k.flagVal, true},
		}
		for _, l := range layers {
			if l.skipWithoutFlagOnThisKey && k.flag == "" {
				continue
			}
			t.Run(k.key+"/"+l.name, func(t *testing.T) {
				path := ""
				if l.file {
					path = writeFile(t, t.TempDir(), "shadowmap.yaml", k.fileYAML+"\n", 0o600)
				}
				var env, args []string
				if l.env {
					env = []string{k.envVar + "=" + k.envVal}
				}
				if l.flag {
					args = []string{"--" + k.flag, k.flagVal}
				}
				cfg := mustLoad(t, path, env, args)
				if got := k.get(cfg); got != l.want {
					t.Errorf("%s = %q, want %q", k.key, got, l.want)
				}
			})
		}
	}
}

func TestDataDirMovesDatabase(t *testing.T) {
	sep := string(filepath.Separator)
	tests := []struct {
		name         string
		fileYAML     string
		env, args    []string
		wantDatabase string
	}{
		{"file data_dir", "data_dir: /var/lib/shadowmap", nil, nil, "/var/lib/shadowmap" + sep + "shadowmap.db"},
		{"env data_dir", "", []string{"SHADOWMAP_DATA_DIR=/srv/sm/"}, nil, "/srv/sm" + sep + "shadowmap.db"},
		{"flag data_dir", "", nil, []string{"--data-dir=/opt/sm"}, "/opt/sm" + sep + "shadowmap.db"},
		{"database beats data_dir", "data_dir: /var/lib/shadowmap\ndatabase: /elsewhere/x.db", nil, nil, "/elsewhere/x.db"},
		{"file database, flag data_dir", "database: /elsewhere/x.db", nil, []string{"--data-dir=/opt/sm"}, "/elsewhere/x.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.fileYAML != "" {
				path = writeFile(t, t.TempDir(), "c.yaml", tt.fileYAML, 0o600)
			}
			cfg := mustLoad(t, path, tt.env, tt.args)
			if cfg.Database != tt.wantDatabase {
				t.Errorf("database = %q, want %q", cfg.Database, tt.wantDatabase)
			}
		})
	}
}

// TestConfigPath: --config beats SHADOWMAP_CONFIG, and --config= turns
// the file off.
func TestConfigPath(t *testing.T) {
	dir := t.TempDir()
	envFile := writeFile(t, dir, "env.yaml", "listen: 127.0.0.1:7001\n", 0o600)
	flagFile := writeFile(t, dir, "flag.yaml", "listen: 127.0.0.1:7002\n", 0o600)
	tests := []struct {
		name       string
		env, args  []string
		wantListen string
		wantFile   string
	}{
		{"none", nil, nil, DefaultListen, ""},
		{"env", []string{"SHADOWMAP_CONFIG=" + envFile}, nil, "127.0.0.1:7001", envFile},
		{"flag", nil, []string{"--config", flagFile}, "127.0.0.1:7002", flagFile},
		{"flag beats env", []string{"SHADOWMAP_CONFIG=" + envFile}, []string{"-config=" + flagFile}, "127.0.0.1:7002", flagFile},
		{"empty flag turns the file off", []string{"SHADOWMAP_CONFIG=" + envFile}, []string{"--config="}, DefaultListen, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tt.wantListen || cfg.File != tt.wantFile {
				t.Errorf("listen %q from %q, want %q from %q", cfg.Listen, cfg.File, tt.wantListen, tt.wantFile)
			}
		})
	}
	if _, err := Parse(nil, []string{"SHADOWMAP_CONFIG=" + filepath.Join(dir, "missing.yaml")}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing config file: err = %v, want it named", err)
	}
	if _, err := Load(dir, nil, nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("config path is a directory: err = %v", err)
	}
}

func TestArgsAndEnvErrors(t *testing.T) {
	tests := []struct {
		name      string
		env, args []string
		want      string
	}{
		{"unknown flag", nil, []string{"--lisen", "x"}, "flag provided but not defined: -lisen"},
		{"positional", nil, []string{"--listen", "127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
		{"flag without value", nil, []string{"--log-level"}, "flag needs an argument"},
		{"bad int env", []string{"SHADOWMAP_INGEST_BURST=lots"}, nil, `SHADOWMAP_INGEST_BURST: want a whole number, got "lots"`},
		{"bad rate env", []string{"SHADOWMAP_INGEST_RATE_LIMIT=NaN"}, nil, `SHADOWMAP_INGEST_RATE_LIMIT: want a number`},
		{"bad duration env", []string{"SHADOWMAP_SHUTDOWN_TIMEOUT=15"}, nil, `SHADOWMAP_SHUTDOWN_TIMEOUT: want a duration`},
		{"bad period env", []string{"SHADOWMAP_RETENTION_AGGREGATES=a year"}, nil, `SHADOWMAP_RETENTION_AGGREGATES: period "a year"`},
		{"bad level flag", nil, []string{"--log-level=loud"}, `log.level "loud" (from --log-level): want debug, info, warn or error`},
		{"bad listen env", []string{"SHADOWMAP_LISTEN=8080"}, nil, `listen "8080" (from SHADOWMAP_LISTEN)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.env, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	for _, help := range []string{"-h", "--help", "-help"} {
		if _, err := Load("", nil, []string{help}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("Load(%s) err = %v, want flag.ErrHelp", help, err)
		}
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	cfg := mustLoad(t, "", []string{"SHADOWMAP_LISTEN=", "SHADOWMAP_ENROLL_SECRET=", "UNRELATED=1"}, nil)
	if cfg.Listen != DefaultListen || len(cfg.EnrollSecrets) != 0 {
		t.Errorf("empty variables changed the config: listen %q, %d secrets", cfg.Listen, len(cfg.EnrollSecrets))
	}
	// A later pair wins, as with exec.Cmd.
	cfg = mustLoad(t, "", []string{"SHADOWMAP_LISTEN=127.0.0.1:1", "SHADOWMAP_LISTEN=127.0.0.1:2"}, nil)
	if cfg.Listen != "127.0.0.1:2" {
		t.Errorf("listen = %q, want the later value", cfg.Listen)
	}
}

// TestBadFiles: every file under testdata/bad fails with the line and the
// words that tell what to fix.
func TestBadFiles(t *testing.T) {
	tests := []struct {
		file string
		line int // 0: any
		want []string
	}{
		{"unknown_key.yaml", 3, []string{`unknown key "lisen"`, `did you mean "listen"?`, "known keys: listen, data_dir"}},
		{"unknown_nested.yaml", 4, []string{`unknown key "certfile" in tls`, `did you mean "cert_file"?`, "known keys: cert_file, key_file"}},
		{"unknown_in_list.yaml", 5, []string{`unknown key "secert" in enroll_secrets[1]`, `did you mean "secret"?`}},
		{"syntax.yaml", 0, []string{"bad YAML"}},
		{"tabs.yaml", 2, []string{"bad YAML", "tab"}},
		{"wrong_type.yaml", 3, []string{`ingest.burst: want a whole number, got "lots"`}},
		{"fraction.yaml", 2, []string{`ingest.burst: want a whole number, got "2.5"`}},
		{"duration_without_unit.yaml", 2, []string{`shutdown_timeout: want a duration such as 15s, 10m or 1h, got "15"`}},
		{"period_without_unit.yaml", 2, []string{`retention.evidence: period "90": want days (90d)`}},
		{"twice.yaml", 4, []string{"listen is set twice (first on line 1)"}},
		{"list_at_top.yaml", 1, []string{"the file: want keys and values"}},
		{"two_documents.yaml", 2, []string{"a second YAML document"}},
		{"section_not_mapping.yaml", 1, []string{`tls: want keys and values (key: value), got "yes"`}},
		{"list_not_list.yaml", 2, []string{"admin_tokens: want a list"}},
		{"merge_key.yaml", 4, []string{"merge keys (<<) are not supported in tls"}},
	}
	seen := make(map[string]bool)
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			_, err := Load(path, nil, nil)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Path != path {
				t.Errorf("path = %q, want %q", fe.Path, path)
			}
			p := fe.Problems[0]
			if tt.line != 0 && p.Line != tt.line {
				t.Errorf("line = %d, want %d (%s)", p.Line, tt.line, err)
			}
			msg := err.Error()
			if tt.line != 0 && !strings.HasPrefix(msg, path+":"+strconv.Itoa(tt.line)+": ") {
				t.Errorf("error %q does not start with %s:%d:", msg, path, tt.line)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	// bad_values.yaml parses but fails validation: one message per value.
	_, err := Load(filepath.Join("testdata", "bad", "bad_values.yaml"), nil, nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("bad_values.yaml: err = %v, want a *ValidationError", err)
	}
	for _, w := range []string{
		`listen "127.0.0.1" (from testdata/bad/bad_values.yaml:1): want host:port`,
		`log.format "xml" (from testdata/bad/bad_values.yaml:3): want text or json`,
		`log.level "loud" (from testdata/bad/bad_values.yaml:4)`,
		`retention.evidence 13m0s (from testdata/bad/bad_values.yaml:6): want at least a day (months are mo: 13mo)`,
		`unknown_domain_k 0 (from testdata/bad/bad_values.yaml:7): want at least 1`,
	} {
		if !strings.Contains(err.Error(), filepath.FromSlash(w)) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	seen["bad_values.yaml"] = true
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("testdata/bad/%s has no test case", e.Name())
		}
	}
}

func TestGoodFiles(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "minimal.yaml"), nil, nil)
	if len(cfg.EnrollSecrets) != 1 || cfg.EnrollSecrets[0].Name != "laptops" || len(cfg.AdminTokens) != 1 {
		t.Errorf("minimal.yaml: %+v", cfg)
	}
	cfg = mustLoad(t, filepath.Join("testdata", "empty.yaml"), nil, nil)
	cfg.Warnings, cfg.File = nil, ""
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("empty.yaml = %+v, want the defaults", cfg)
	}
	// The full example names files under /etc that a test machine lacks:
	// it must decode (every key known, every value well-formed) and carry
	// the values it shows.
	data, err := os.ReadFile(filepath.Join("testdata", "shadowmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	full := unresolvedDefault()
	if problems := decodeFile(data, "shadowmap.yaml", &full); len(problems) != 0 {
		t.Fatalf("shadowmap.yaml: %v", problems)
	}
	if full.Listen != "0.0.0.0:8443" || len(full.EnrollSecrets) != 2 || !full.EnrollSecrets[1].Revoked ||
		full.Retention.Aggregates.String() != "13mo" || full.EmailDomain != "example.com" {
		t.Errorf("shadowmap.yaml decoded as %+v", full)
	}
}

func TestAliases(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "a.yaml", `
data_dir: &dir /srv/shadowmap
database: /srv/shadowmap/db.sqlite
log: &log {format: json, level: debug}
enroll_secrets:
  - &laptops {name: laptops, secret: "`+secretA+`"}
`, 0o600)
	cfg := mustLoad(t, path, nil, nil)
	if cfg.DataDir != "/srv/shadowmap" || cfg.Log.Level != "debug" || cfg.EnrollSecrets[0].Name != "laptops" {
		t.Errorf("aliases: %+v", cfg)
	}

	// Thousands of aliases to one entry would make a small file decode
	// into a huge one: decoding stops at the budget, with a message.
	var b strings.Builder
	b.WriteString("enroll_secrets:\n  - &e {name: a, secret: " + secretA + ", revoked: true}\n")
	for range nodeBudget {
		b.WriteString("  - *e\n")
	}
	bomb := unresolvedDefault()
	problems := decodeFile([]byte(b.String()), "bomb.yaml", &bomb)
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "too many values") {
		t.Errorf("alias bomb: %v", problems)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := validPair(t, dir, "good")
	otherCert, _ := validPair(t, dir, "other")
	tests := []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{"pair", []string{"--tls-cert", cert, "--tls-key", key}, ""},
		{"cert only", []string{"--tls-cert", cert}, "tls.cert_file is set but tls.key_file is not"},
		{"key only", []string{"--tls-key", key}, "tls.key_file is set but tls.cert_file is not"},
		{"missing cert", []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", key}, "tls.cert_file: stat " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"missing key", []string{"--tls-cert", cert, "--tls-key", filepath.Join(dir, "nope.pem")}, "tls.key_file: stat " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"mismatched", []string{"--tls-cert", otherCert, "--tls-key", key}, "are not a usable key pair"},
		{"cert as key", []string{"--tls-cert", cert, "--tls-key", cert}, "are not a usable key pair"},
		{"not a regular file", []string{"--tls-cert", dir, "--tls-key", key}, "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", nil, tt.args)
			if tt.want == "" {
				if err != nil || !cfg.TLS.Enabled() {
					t.Fatalf("err = %v, enabled %v", err, cfg.TLS.Enabled())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}

	// Precedence holds for the pair as a whole: the file's pair, replaced
	// by the environment's, replaced by the flags'.
	envCert, envKey := validPair(t, dir, "env")
	flagCert, flagKey := validPair(t, dir, "flag")
	file := writeFile(t, dir, "tls.yaml", "tls:\n  cert_file: "+cert+"\n  key_file: "+key+"\n", 0o600)
	env := []string{"SHADOWMAP_TLS_CERT=" + envCert, "SHADOWMAP_TLS_KEY=" + envKey}
	if got := mustLoad(t, file, nil, nil).TLS; got.CertFile != cert || got.KeyFile != key {
		t.Errorf("file TLS = %+v", got)
	}
	if got := mustLoad(t, file, env, nil).TLS; got.CertFile != envCert || got.KeyFile != envKey {
		t.Errorf("env TLS = %+v", got)
	}
	if got := mustLoad(t, file, env, []string{"--tls-cert", flagCert, "--tls-key", flagKey}).TLS; got.CertFile != flagCert || got.KeyFile != flagKey {
		t.Errorf("flag TLS = %+v", got)
	}
}

func TestValidate(t *testing.T) {
	withSecrets := func(c Config) Config {
		c.EnrollSecrets = []EnrollSecret{{Name: "laptops", Secret: secretA}}
		c.AdminTokens = []AdminToken{{Name: "it", Token: tokenA}}
		return c
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" for valid
	}{
		{"defaults with credentials", func(*Config) {}, ""},
		{"port 0", func(c *Config) { c.Listen = "127.0.0.1:0" }, ""},
		{"all interfaces", func(c *Config) { c.Listen = ":8080" }, ""},
		{"ipv6", func(c *Config) { c.Listen = "[::1]:8080" }, ""},
		{"no port", func(c *Config) { c.Listen = "localhost" }, `listen "localhost": want host:port`},
		{"named port", func(c *Config) { c.Listen = "localhost:http" }, `port "http" is not a number`},
		{"port too big", func(c *Config) { c.Listen = "localhost:70000" }, `port "70000"`},
		{"empty data_dir", func(c *Config) { c.DataDir = " " }, "data_dir is empty"},
		{"empty database", func(c *Config) { c.Database = "" }, "database is empty"},
		{"log format", func(c *Config) { c.Log.Format = "logfmt" }, `log.format "logfmt": want text or json`},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, `log.level "trace"`},
		{"secret name missing", func(c *Config) { c.EnrollSecrets[0].Name = "" }, `enroll_secrets[0] (""): name is missing`},
		{"secret name chars", func(c *Config) { c.EnrollSecrets[0].Name = "my laptops" }, `use letters, digits`},
		{"secret missing", func(c *Config) { c.EnrollSecrets[0].Secret = "" }, `enroll_secrets[0] ("laptops"): no secret: set it inline or with secret_file`},
		{"revoked secret may be empty", func(c *Config) { c.EnrollSecrets[0].Secret, c.EnrollSecrets[0].Revoked = "", true }, ""},
		{"secret short", func(c *Config) { c.EnrollSecrets[0].Secret = "short-secret" }, "shorter than 16 bytes"},
		{"secret exactly 16", func(c *Config) { c.EnrollSecrets[0].Secret = "0123456789abcdef" }, ""},
		{"token short", func(c *Config) { c.AdminTokens[0].Token = "tok" }, `admin_tokens[0] ("it"): the token is shorter than 16 bytes`},
		{"duplicate secret names", func(c *Config) {
			c.EnrollSecrets = append(c.EnrollSecrets, EnrollSecret{Name: "laptops", Secret: secretB})
		}, `enroll_secrets[1] ("laptops"): name "laptops" is already used by enroll_secrets[0]`},
		{"duplicate token names", func(c *Config) {
			c.AdminTokens = append(c.AdminTokens, AdminToken{Name: "it", Token: tokenB})
		}, `name "it" is already used by admin_tokens[0]`},
		{"same name across lists", func(c *Config) { c.AdminTokens[0].Name = "laptops" }, ""},
		{"duplicate secret values", func(c *Config) {
			c.EnrollSecrets = append(c.EnrollSecrets, EnrollSecret{Name: "other", Secret: secretA, Revoked: true})
		}, `enroll_secrets[1] ("other") has the same value as enroll_secrets[0] ("laptops")`},
		{"enroll secret as admin token", func(c *Config) { c.AdminTokens[0].Token = secretA }, `admin_tokens[0] ("it") has the same value as enroll_secrets[0]`},
		{"rate zero", func(c *Config) { c.Ingest.RateLimit = 0 }, "ingest.rate_limit 0"},
		{"rate fractional", func(c *Config) { c.Ingest.RateLimit = 0.5 }, ""},
		{"burst zero", func(c *Config) { c.Ingest.Burst = 0 }, "ingest.burst 0: want at least 1"},
		{"body tiny", func(c *Config) { c.Ingest.MaxBodyBytes = 100 }, "ingest.max_body_bytes 100: want 1024 to"},
		{"body huge", func(c *Config) { c.Ingest.MaxBodyBytes = 1 << 30 }, "ingest.max_body_bytes 1073741824"},
		{"evidence negative", func(c *Config) { c.Retention.Evidence = PeriodOf(-time.Hour) }, "retention.evidence -1h0m0s: want at least a day"},
		{"evidence minutes", func(c *Config) { c.Retention.Evidence = PeriodOf(13 * time.Minute) }, "months are mo: 13mo"},
		{"evidence one day", func(c *Config) { c.Retention.Evidence = Days(1) }, ""},
		{"aggregates zero", func(c *Config) { c.Retention.Aggregates = Period{} }, "retention.aggregates 0s: want at least a day"},
		{"aggregates shorter", func(c *Config) { c.Retention.Aggregates = Days(30) }, "retention.aggregates 30d is shorter than retention.evidence 90d"},
		{"aggregates equal", func(c *Config) { c.Retention.Aggregates = Days(90) }, ""},
		{"purge fast", func(c *Config) { c.Retention.PurgeInterval = time.Second }, "retention.purge_interval 1s: want at least 1m0s"},
		{"k zero", func(c *Config) { c.UnknownDomainK = 0 }, "unknown_domain_k 0: want at least 1"},
		{"email with at", func(c *Config) { c.EmailDomain = "@example.com" }, "without @"},
		{"email bad", func(c *Config) { c.EmailDomain = "exa mple.com" }, `email_domain "exa mple.com"`},
		{"email empty label", func(c *Config) { c.EmailDomain = "example..com" }, "want a domain name"},
		{"email single label", func(c *Config) { c.EmailDomain = "corp" }, ""},
		{"shutdown zero", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout 0s: want a duration above 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withSecrets(Default())
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen, c.Log.Level, c.Ingest.Burst = "nope", "loud", 0
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Errorf("Validate() = %v, want three problems", err)
	}
}

func TestSecretFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the cases check permission warnings, which Windows has no bits for")
	}
	dir := t.TempDir()
	good := writeFile(t, dir, "good", secretA+"\n", 0o600)
	spaced := writeFile(t, dir, "spaced", "  "+secretB+" \r\n\n", 0o400)
	loose := writeFile(t, dir, "loose", secretC+"\n", 0o644)
	empty := writeFile(t, dir, "empty", "\n  \n", 0o600)
	short := writeFile(t, dir, "short", "tooshort\n", 0o600)
	huge := writeFile(t, dir, "huge", strings.Repeat("x", 5000), 0o600)
	tokenFile := writeFile(t, dir, "token", tokenA, 0o600)

	config := func(entries string) string {
		return writeFile(t, t.TempDir(), "shadowmap.yaml", entries, 0o600)
	}
	tests := []struct {
		name        string
		yaml        string
		env         []string
		wantSecret  string // enroll_secrets[0] after load
		wantWarning string
		wantErr     string
	}{
		{"file", "enroll_secrets: [{name: a, secret_file: " + good + "}]", nil, secretA, "", ""},
		{"whitespace trimmed", "enroll_secrets: [{name: a, secret_file: " + spaced + "}]", nil, secretB, "", ""},
		{"loose mode warns", "enroll_secrets: [{name: a, secret_file: " + loose + "}]", nil, secretC,
			`enroll_secrets[0] ("a", from ` + "%CONFIG%" + `:1): secret file ` + loose + ` is readable by group or others (mode 0644): chmod 600 it`, ""},
		{"missing", "enroll_secrets: [{name: a, secret_file: " + filepath.Join(dir, "nope") + "}]", nil, "", "",
			`enroll_secrets[0] ("a", from %CONFIG%:1): read secret file: open ` + filepath.Join(dir, "nope")},
		{"empty", "enroll_secrets: [{name: a, secret_file: " + empty + "}]", nil, "", "", "secret file " + empty + " is empty"},
		{"short", "enroll_secrets: [{name: a, secret_file: " + short + "}]", nil, "", "", "shorter than 16 bytes"},
		{"huge", "enroll_secrets: [{name: a, secret_file: " + huge + "}]", nil, "", "", "larger than 4096 bytes"},
		{"both", "enroll_secrets: [{name: a, secret: " + secretB + ", secret_file: " + good + "}]", nil, "", "",
			"set secret or secret_file, not both"},
		{"directory", "enroll_secrets: [{name: a, secret_file: " + dir + "}]", nil, "", "", "is a directory"},
		{"env file", "", []string{"SHADOWMAP_ENROLL_SECRET_FILE=" + good}, secretA, "", ""},
		{"env file missing", "", []string{"SHADOWMAP_ENROLL_SECRET_FILE=" + filepath.Join(dir, "nope")}, "", "",
			`enroll_secrets[0] ("env", from SHADOWMAP_ENROLL_SECRET_FILE): read secret file`},
		{"token file", "enroll_secrets: [{name: a, secret_file: " + good + "}]\nadmin_tokens: [{name: t, token_file: " + tokenFile + "}]", nil, secretA, "", ""},
		{"token both", "admin_tokens: [{name: t, token: " + tokenB + ", token_file: " + tokenFile + "}]", nil, "", "",
			"set token or token_file, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = config(tt.yaml + "\n")
			}
			cfg, err := Load(path, tt.env, nil)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "%CONFIG%", path)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.EnrollSecrets[0].Secret.Reveal(); got != tt.wantSecret {
				t.Errorf("secret = %q, want %q", got, tt.wantSecret)
			}
			if tt.wantWarning != "" {
				if want := strings.ReplaceAll(tt.wantWarning, "%CONFIG%", path); !hasWarning(cfg, want) {
					t.Errorf("warnings %q lack %q", cfg.Warnings, want)
				}
			} else if hasWarning(cfg, "readable by group or others") {
				t.Errorf("unexpected permission warning: %q", cfg.Warnings)
			}
		})
	}
}

func TestEnvCredentials(t *testing.T) {
	file := writeFile(t, t.TempDir(), "c.yaml", "enroll_secrets: [{name: laptops, secret: "+secretA+"}]\n", 0o600)
	cfg := mustLoad(t, file, []string{"SHADOWMAP_ENROLL_SECRET=" + secretB, "SHADOWMAP_ADMIN_TOKEN=" + tokenA}, nil)
	if len(cfg.EnrollSecrets) != 2 || cfg.EnrollSecrets[1].Name != "env" || cfg.EnrollSecrets[1].Secret.Reveal() != secretB {
		t.Errorf("enroll secrets = %+v, want laptops and env", cfg.EnrollSecrets)
	}
	if len(cfg.AdminTokens) != 1 || cfg.AdminTokens[0].Name != "env" || cfg.AdminTokens[0].Token.Reveal() != tokenA {
		t.Errorf("admin tokens = %+v, want env", cfg.AdminTokens)
	}
	if hasWarning(cfg, "no active") {
		t.Errorf("warnings %q: credentials are set", cfg.Warnings)
	}

	// Both the value and the file form add one named env: a clash.
	dir := t.TempDir()
	f := writeFile(t, dir, "s", secretC, 0o600)
	_, err := Load("", []string{"SHADOWMAP_ENROLL_SECRET=" + secretB, "SHADOWMAP_ENROLL_SECRET_FILE=" + f}, nil)
	if err == nil || !strings.Contains(err.Error(), `name "env" is already used`) || !strings.Contains(err.Error(), "from SHADOWMAP_ENROLL_SECRET_FILE") {
		t.Errorf("err = %v, want the env name clash explained", err)
	}
}

func TestWarnings(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits to warn about on Windows")
	}
	dir := t.TempDir()
	cert, key := validPair(t, dir, "ok")
	looseCert, looseKey := validPair(t, dir, "loose")
	if err := os.Chmod(looseKey, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	oldCert, oldKey := writeKeyPair(t, dir, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	inline := "enroll_secrets: [{name: a, secret: " + secretA + "}]\n"
	tests := []struct {
		name     string
		file     string
		mode     os.FileMode
		env      []string
		args     []string
		want     []string
		wantNone string
	}{
		{"unknown variable", "", 0, []string{"SHADOWMAP_LISTN=127.0.0.1:1", "OTHER=1"}, nil,
			[]string{"environment variable SHADOWMAP_LISTN is not a shadowmap setting and is ignored; did you mean SHADOWMAP_LISTEN?"}, ""},
		{"plain http on every interface", "", 0, nil, []string{"--listen", ":8080"}, []string{"listening on :8080 with plain HTTP"}, ""},
		{"plain http on a public address", "", 0, []string{"SHADOWMAP_LISTEN=192.0.2.10:8080"}, nil, []string{"with plain HTTP"}, ""},
		{"plain http on loopback", "", 0, []string{"SHADOWMAP_LISTEN=[::1]:8080"}, nil, nil, "plain HTTP"},
		{"plain http on localhost", "", 0, []string{"SHADOWMAP_LISTEN=localhost:8080"}, nil, nil, "plain HTTP"},
		{"tls on every interface", "", 0, nil, []string{"--listen", ":8443", "--tls-cert", cert, "--tls-key", key}, nil, "plain HTTP"},
		{"loose tls key", "", 0, nil, []string{"--tls-cert", looseCert, "--tls-key", looseKey}, []string{"tls.key_file " + looseKey + " is readable by group or others (mode 0644)"}, ""},
		{"expired certificate", "", 0, nil, []string{"--tls-cert", oldCert, "--tls-key", oldKey}, []string{"tls.cert_file " + oldCert + " expired on"}, ""},
		{"small k", "unknown_domain_k: 1\n", 0o600, nil, nil, []string{"unknown_domain_k is 1"}, ""},
		{"inline secrets in a loose file", inline, 0o644, nil, nil, []string{"holds secrets and is readable by group or others (mode 0644)"}, ""},
		{"inline secrets in a 0600 file", inline, 0o600, nil, nil, nil, "holds secrets"},
		{"no secrets in a loose file", "listen: 127.0.0.1:8080\n", 0o644, nil, nil, nil, "holds secrets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, t.TempDir(), "shadowmap.yaml", tt.file, tt.mode)
			}
			cfg := mustLoad(t, path, tt.env, tt.args)
			for _, w := range tt.want {
				if !hasWarning(cfg, w) {
					t.Errorf("warnings %q lack %q", cfg.Warnings, w)
				}
			}
			if tt.wantNone != "" && hasWarning(cfg, tt.wantNone) {
				t.Errorf("warnings %q mention %q", cfg.Warnings, tt.wantNone)
			}
		})
	}
}

func TestMatchCredentials(t *testing.T) {
	c := Config{
		EnrollSecrets: []EnrollSecret{
			{Name: "old", Secret: secretA, Revoked: true},
			{Name: "new", Secret: secretB},
			{Name: "gone", Revoked: true},
		},
		AdminTokens: []AdminToken{{Name: "it", Token: tokenA}},
	}
	tests := []struct {
		presented   string
		wantName    string
		wantRevoked bool
		wantOK      bool
	}{
		{secretB, "new", false, true},
		{secretA, "old", true, true},
		{"", "", false, false},
		{secretB + "x", "", false, false},
		{secretB[:20], "", false, false},
		{tokenA, "", false, false},
	}
	for _, tt := range tests {
		got, ok := c.MatchEnrollSecret(tt.presented)
		if ok != tt.wantOK || got.Name != tt.wantName || got.Revoked != tt.wantRevoked {
			t.Errorf("MatchEnrollSecret(%d bytes) = %q revoked %v ok %v, want %q %v %v",
				len(tt.presented), got.Name, got.Revoked, ok, tt.wantName, tt.wantRevoked, tt.wantOK)
		}
	}
	if got, ok := c.MatchAdminToken(tokenA); !ok || got.Name != "it" {
		t.Errorf("MatchAdminToken(tokenA) = %q, %v", got.Name, ok)
	}
	if _, ok := c.MatchAdminToken(secretB); ok {
		t.Error("an enroll secret matched as an admin token")
	}
}

func TestLogHandler(t *testing.T) {
	var b strings.Builder
	h := Log{Format: "json", Level: "warn"}.Handler(&b)
	if !h.Enabled(t.Context(), slog.LevelWarn) || h.Enabled(t.Context(), slog.LevelInfo) {
		t.Error("json handler at warn: wrong levels enabled")
	}
	if got := (Log{Level: "nonsense"}).SlogLevel(); got != slog.LevelInfo {
		t.Errorf("unknown level = %v, want info", got)
	}
}

func TestUsage(t *testing.T) {
	var b strings.Builder
	Usage(&b)
	out := b.String()
	for _, s := range settings() {
		if !strings.Contains(out, s.env) {
			t.Errorf("usage lacks %s", s.env)
		}
		if s.flag != "" && !strings.Contains(out, "--"+s.flag+" ") {
			t.Errorf("usage lacks --%s", s.flag)
		}
	}
	if !strings.Contains(out, "--config FILE") {
		t.Error("usage lacks --config")
	}
}

// TestDocs keeps docs/configuration.md whole: every file key, variable and
// flag is in it, and its full example is testdata/shadowmap.yaml.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, key := range AllKeys() {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("docs/configuration.md lacks key `%s`", key)
		}
	}
	for _, s := range settings() {
		if !strings.Contains(doc, "`"+s.env+"`") {
			t.Errorf("docs/configuration.md lacks variable `%s`", s.env)
		}
		if s.flag != "" && !strings.Contains(doc, "`--"+s.flag+"`") {
			t.Errorf("docs/configuration.md lacks flag `--%s`", s.flag)
		}
	}
	for _, s := range []string{"`" + EnvConfig + "`", "`--config`"} {
		if !strings.Contains(doc, s) {
			t.Errorf("docs/configuration.md lacks %s", s)
		}
	}
	_, rest, ok := strings.Cut(doc, "## Full example")
	if !ok {
		t.Fatal("docs/configuration.md has no Full example section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the Full example section has no yaml block")
	}
	want, err := os.ReadFile(filepath.Join("testdata", "shadowmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if example != string(want) {
		t.Errorf("the docs' full example differs from testdata/shadowmap.yaml:\n%s", example)
	}
}
