package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Environment variable names that are not tied to one key.
const (
	// EnvPrefix starts every variable the collector reads.
	EnvPrefix = "SHADOWMAP_"
	// EnvConfig names the configuration file when --config does not.
	EnvConfig = "SHADOWMAP_CONFIG"
	// EnvEntryName is the name of the enroll secret and the admin token
	// that SHADOWMAP_ENROLL_SECRET and SHADOWMAP_ADMIN_TOKEN add.
	EnvEntryName = "env"
)

// maxSecretFileBytes caps a secret file: a secret is a line of text.
const maxSecretFileBytes = 4096

// setting is one value that environment variables and flags can set.
type setting struct {
	key   string // the file key it overrides, dotted
	env   string
	flag  string // "" when there is no flag (secrets never have one: ps shows flags)
	arg   string // the flag's argument, for usage
	usage string
	// set applies a value; from ("SHADOWMAP_LISTEN", "--listen") is
	// recorded as the value's origin.
	set func(c *Config, value, from string) error
}

// settings lists every environment variable and flag besides the
// configuration file's own.
func settings() []setting {
	return []setting{
		{"listen", "SHADOWMAP_LISTEN", "listen", "ADDR", "host:port to listen on",
			setString("listen", func(c *Config) *string { return &c.Listen })},
		{"data_dir", "SHADOWMAP_DATA_DIR", "data-dir", "DIR", "directory for the database",
			setString("data_dir", func(c *Config) *string { return &c.DataDir })},
		{"database", "SHADOWMAP_DATABASE", "database", "FILE", "SQLite database file (default DIR/shadowmap.db)",
			setString("database", func(c *Config) *string { return &c.Database })},
		{"tls.cert_file", "SHADOWMAP_TLS_CERT", "tls-cert", "FILE", "TLS certificate chain (PEM); with --tls-key",
			setString("tls.cert_file", func(c *Config) *string { return &c.TLS.CertFile })},
		{"tls.key_file", "SHADOWMAP_TLS_KEY", "tls-key", "FILE", "TLS private key (PEM); with --tls-cert",
			setString("tls.key_file", func(c *Config) *string { return &c.TLS.KeyFile })},
		{"trusted_proxies", "SHADOWMAP_TRUSTED_PROXIES", "", "", "CIDRs of the reverse proxies to believe X-Forwarded-For from",
			setParsed("trusted_proxies", splitProxies, func(c *Config) *[]string { return &c.TrustedProxies })},
		{"log.format", "SHADOWMAP_LOG_FORMAT", "log-format", "text|json", "log format",
			setString("log.format", func(c *Config) *string { return &c.Log.Format })},
		{"log.level", "SHADOWMAP_LOG_LEVEL", "log-level", "LEVEL", "debug, info, warn or error",
			setString("log.level", func(c *Config) *string { return &c.Log.Level })},
		{"enroll_secrets", "SHADOWMAP_ENROLL_SECRET", "", "", "adds an enroll secret named env",
			addEnrollSecret(false)},
		{"enroll_secrets", "SHADOWMAP_ENROLL_SECRET_FILE", "", "", "adds an enroll secret named env, read from this file",
			addEnrollSecret(true)},
		{"admin_tokens", "SHADOWMAP_ADMIN_TOKEN", "", "", "adds an admin token named env",
			addAdminToken(false)},
		{"admin_tokens", "SHADOWMAP_ADMIN_TOKEN_FILE", "", "", "adds an admin token named env, read from this file",
			addAdminToken(true)},
		{"ingest.rate_limit", "SHADOWMAP_INGEST_RATE_LIMIT", "", "", "batches per second per device",
			setParsed("ingest.rate_limit", parseRate, func(c *Config) *float64 { return &c.Ingest.RateLimit })},
		{"ingest.burst", "SHADOWMAP_INGEST_BURST", "", "", "batches a device may send at once",
			setParsed("ingest.burst", parseInt, func(c *Config) *int { return &c.Ingest.Burst })},
		{"ingest.max_body_bytes", "SHADOWMAP_INGEST_MAX_BODY_BYTES", "", "", "largest sightings body, compressed",
			setParsed("ingest.max_body_bytes", parseInt64, func(c *Config) *int64 { return &c.Ingest.MaxBodyBytes })},
		{"retention.evidence", "SHADOWMAP_RETENTION_EVIDENCE", "", "", "how long raw evidence is kept",
			setParsed("retention.evidence", ParsePeriod, func(c *Config) *Period { return &c.Retention.Evidence })},
		{"retention.aggregates", "SHADOWMAP_RETENTION_AGGREGATES", "", "", "how long daily aggregates are kept",
			setParsed("retention.aggregates", ParsePeriod, func(c *Config) *Period { return &c.Retention.Aggregates })},
		{"retention.purge_interval", "SHADOWMAP_RETENTION_PURGE_INTERVAL", "", "", "how often the purge job runs",
			setParsed("retention.purge_interval", parseDuration, func(c *Config) *time.Duration { return &c.Retention.PurgeInterval })},
		{"unknown_domain_k", "SHADOWMAP_UNKNOWN_DOMAIN_K", "", "", "devices that must see an unknown domain",
			setParsed("unknown_domain_k", parseInt, func(c *Config) *int { return &c.UnknownDomainK })},
		{"email_domain", "SHADOWMAP_EMAIL_DOMAIN", "", "", "domain that turns an OS user into an email",
			setString("email_domain", func(c *Config) *string { return &c.EmailDomain })},
		{"shutdown_timeout", "SHADOWMAP_SHUTDOWN_TIMEOUT", "", "", "grace period for in-flight requests",
			setParsed("shutdown_timeout", parseDuration, func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"sources.interval", "SHADOWMAP_IMPORT_INTERVAL", "", "", "how often serve runs the importers",
			setParsed("sources.interval", parseDuration, func(c *Config) *time.Duration { return &c.Sources.Interval })},
		{"sources.google.credentials_file", "SHADOWMAP_GOOGLE_CREDENTIALS_FILE", "", "", "Google service account key (JSON)",
			setString("sources.google.credentials_file", func(c *Config) *string { return &c.Sources.Google.CredentialsFile })},
		{"sources.google.admin_email", "SHADOWMAP_GOOGLE_ADMIN_EMAIL", "", "", "the Workspace admin the service account acts as",
			setString("sources.google.admin_email", func(c *Config) *string { return &c.Sources.Google.AdminEmail })},
		{"sources.okta.url", "SHADOWMAP_OKTA_URL", "", "", "the Okta org URL",
			setString("sources.okta.url", func(c *Config) *string { return &c.Sources.Okta.URL })},
		{"sources.okta.token_file", "SHADOWMAP_OKTA_TOKEN_FILE", "", "", "file holding an Okta API token",
			setString("sources.okta.token_file", func(c *Config) *string { return &c.Sources.Okta.TokenFile })},
		{"sources.entra.tenant_id", "SHADOWMAP_ENTRA_TENANT_ID", "", "", "the Entra tenant id",
			setString("sources.entra.tenant_id", func(c *Config) *string { return &c.Sources.Entra.TenantID })},
		{"sources.entra.client_id", "SHADOWMAP_ENTRA_CLIENT_ID", "", "", "the app registration's client id",
			setString("sources.entra.client_id", func(c *Config) *string { return &c.Sources.Entra.ClientID })},
		{"sources.entra.client_secret_file", "SHADOWMAP_ENTRA_CLIENT_SECRET_FILE", "", "", "file holding the app registration's client secret",
			setString("sources.entra.client_secret_file", func(c *Config) *string { return &c.Sources.Entra.ClientSecretFile })},
	}
}

func setString(key string, field func(*Config) *string) func(*Config, string, string) error {
	return func(c *Config, v, from string) error {
		*field(c) = v
		c.setOrigin(key, from)
		return nil
	}
}

func setParsed[T any](key string, parse func(string) (T, error), field func(*Config) *T) func(*Config, string, string) error {
	return func(c *Config, v, from string) error {
		parsed, err := parse(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
		*field(c) = parsed
		c.setOrigin(key, from)
		return nil
	}
}

func addEnrollSecret(fromFile bool) func(*Config, string, string) error {
	return func(c *Config, v, from string) error {
		e := EnrollSecret{Name: EnvEntryName}
		if fromFile {
			e.SecretFile = v
		} else {
			e.Secret = Secret(v)
		}
		c.EnrollSecrets = append(c.EnrollSecrets, e)
		c.setOrigin(fmt.Sprintf("enroll_secrets[%d]", len(c.EnrollSecrets)-1), from)
		return nil
	}
}

func addAdminToken(fromFile bool) func(*Config, string, string) error {
	return func(c *Config, v, from string) error {
		t := AdminToken{Name: EnvEntryName}
		if fromFile {
			t.TokenFile = v
		} else {
			t.Token = Secret(v)
		}
		c.AdminTokens = append(c.AdminTokens, t)
		c.setOrigin(fmt.Sprintf("admin_tokens[%d]", len(c.AdminTokens)-1), from)
		return nil
	}
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("want a whole number, got %q", s)
	}
	return n, nil
}

func parseInt64(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number, got %q", s)
	}
	return n, nil
}

func parseRate(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 15s, 10m or 1h, got %q", s)
	}
	return d, nil
}

// newFlagSet defines serve's flags. Every flag is a string: the values
// are parsed and checked like the environment's, by settings().
func newFlagSet() (fs *flag.FlagSet, configPath *string) {
	fs = flag.NewFlagSet("shadowmap serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; Usage prints help
	fs.Usage = func() {}
	configPath = fs.String("config", "", "configuration file")
	for _, s := range settings() {
		if s.flag != "" {
			fs.String(s.flag, "", s.usage)
		}
	}
	return fs, configPath
}

// Usage writes the help for `shadowmap serve`.
func Usage(w io.Writer) {
	fmt.Fprint(w, `usage: shadowmap serve [flags]

Run the collector. Each setting comes from, in rising precedence: the
built-in default, the configuration file, a SHADOWMAP_* environment
variable, a flag. With no file at all it keeps its database in
./data/shadowmap.db and listens on 127.0.0.1:8080. Every key, variable
and flag is in docs/configuration.md.

flags:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  --config FILE\tconfiguration file (YAML)\t%s\n", EnvConfig)
	for _, s := range settings() {
		if s.flag != "" {
			fmt.Fprintf(tw, "  --%s %s\t%s\t%s\n", s.flag, s.arg, s.usage, s.env)
		}
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nenvironment only:\n")
	for _, s := range settings() {
		if s.flag == "" {
			fmt.Fprintf(tw, "  %s\t%s\n", s.env, s.usage)
		}
	}
	_ = tw.Flush()
}

// Parse is what `shadowmap serve` calls with its arguments and the
// process environment: the configuration file is the one --config names,
// else the one SHADOWMAP_CONFIG names, else none.
func Parse(args, env []string) (Config, error) {
	return Load(envMap(env)[EnvConfig], env, args)
}

// Load builds the configuration: defaults, then the file at path ("" for
// none), then the SHADOWMAP_* variables in env ("KEY=value", as
// os.Environ gives them; an empty value counts as unset), then the flags
// in args. A --config flag in args replaces path. Secret files are read,
// the result is validated, and what deserves a warning is in
// Config.Warnings. With -h or --help in args the error is flag.ErrHelp.
func Load(path string, env, args []string) (Config, error) {
	fs, configPath := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, flag.ErrHelp
		}
		return Config{}, fmt.Errorf("%w (see shadowmap serve --help)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: serve takes only flags (see shadowmap serve --help)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config" {
			path = *configPath
		}
	})

	cfg := unresolvedDefault()
	var warnings []string
	if path != "" {
		w, err := cfg.readFile(path)
		if err != nil {
			return Config{}, err
		}
		warnings = append(warnings, w...)
		cfg.File = path
	}
	warnings = append(warnings, unknownEnv(env)...)
	if err := cfg.applyEnv(envMap(env)); err != nil {
		return Config{}, err
	}
	if err := cfg.applyFlags(fs); err != nil {
		return Config{}, err
	}
	cfg.resolve()
	w, err := cfg.readSecretFiles()
	if err != nil {
		return Config{}, err
	}
	warnings = append(warnings, w...)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	cfg.Warnings = append(warnings, cfg.advice()...)
	return cfg, nil
}

// envMap turns "KEY=value" pairs into a map; a later pair wins.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// unknownEnv warns about SHADOWMAP_* variables nothing reads: most are
// typos, and a typo in SHADOWMAP_LISTEN silently listening elsewhere is
// worse than a warning.
func unknownEnv(env []string) []string {
	known := map[string]bool{EnvConfig: true}
	var names []string
	for _, s := range settings() {
		known[s.env] = true
		names = append(names, s.env)
	}
	var unknown []string
	for k := range envMap(env) {
		if strings.HasPrefix(k, EnvPrefix) && !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	var warnings []string
	for _, k := range unknown {
		hint := ""
		if s := suggest(k, names); s != "" {
			hint = fmt.Sprintf("; did you mean %s?", s)
		}
		warnings = append(warnings, fmt.Sprintf("environment variable %s is not a shadowmap setting and is ignored%s", k, hint))
	}
	return warnings
}

func (c *Config) applyEnv(env map[string]string) error {
	var errs []error
	for _, s := range settings() {
		if v := env[s.env]; v != "" {
			if err := s.set(c, v, s.env); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Config) applyFlags(fs *flag.FlagSet) error {
	byFlag := make(map[string]setting)
	for _, s := range settings() {
		if s.flag != "" {
			byFlag[s.flag] = s
		}
	}
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		if s, ok := byFlag[f.Name]; ok {
			if err := s.set(c, f.Value.String(), "--"+f.Name); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// readFile decodes the configuration file over c.
func (c *Config) readFile(path string) (warnings []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read config: %s is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("read config: %s is larger than %d bytes", path, maxFileBytes)
	}
	if problems := decodeFile(data, path, c); len(problems) > 0 {
		return nil, &FileError{Path: path, Problems: problems}
	}
	if c.hasInlineSecrets() && looseMode(st.Mode()) {
		warnings = append(warnings, fmt.Sprintf(
			"config file %s holds secrets and is readable by group or others (mode %04o): chmod 600 it, or move the secrets to secret_file/token_file",
			path, st.Mode().Perm()))
	}
	return warnings, nil
}

func (c *Config) hasInlineSecrets() bool {
	for _, e := range c.EnrollSecrets {
		if e.Secret != "" {
			return true
		}
	}
	for _, t := range c.AdminTokens {
		if t.Token != "" {
			return true
		}
	}
	return false
}

// looseMode reports whether a file's permissions let group or others at
// it. Windows has no such bits to check.
func looseMode(m os.FileMode) bool {
	return runtime.GOOS != "windows" && m.Perm()&0o077 != 0
}

// readSecretFiles fills each secret and token given as a file.
func (c *Config) readSecretFiles() (warnings []string, err error) {
	var errs []error
	read := func(sf secretFile) {
		if sf.file == "" {
			return
		}
		if *sf.value != "" {
			errs = append(errs, fmt.Errorf("%s: set %s or %s, not both", sf.label, sf.valueKey, sf.fileKey))
			return
		}
		s, warn, err := readSecretFile(sf.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sf.label, err))
			return
		}
		*sf.value = s
		if warn != "" {
			warnings = append(warnings, sf.label+": "+warn)
		}
	}
	for i := range c.EnrollSecrets {
		e := &c.EnrollSecrets[i]
		read(secretFile{c.entryLabel("enroll_secrets", i, e.Name), e.SecretFile, &e.Secret, "secret_file", "secret"})
	}
	for i := range c.AdminTokens {
		t := &c.AdminTokens[i]
		read(secretFile{c.entryLabel("admin_tokens", i, t.Name), t.TokenFile, &t.Token, "token_file", "token"})
	}
	for _, sf := range c.sourceSecretFiles() {
		read(sf)
	}
	read(c.oidcSecretFile())
	read(c.digestSecretFile())
	return warnings, errors.Join(errs...)
}

// secretFile is one secret that may be given as a file: label names it
// in messages, file is the path, value the secret it fills, and fileKey
// and valueKey the two settings that must not both be set.
type secretFile struct {
	label, file       string
	value             *Secret
	fileKey, valueKey string
}

// readSecretFile reads a secret, trimming the whitespace and newline
// editors and `echo` leave around it. The warning is for loose
// permissions.
func readSecretFile(path string) (Secret, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("read secret file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", "", fmt.Errorf("read secret file: %w", err)
	}
	if st.IsDir() {
		return "", "", fmt.Errorf("read secret file: %s is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", "", fmt.Errorf("read secret file: %w", err)
	}
	if len(data) > maxSecretFileBytes {
		return "", "", fmt.Errorf("secret file %s is larger than %d bytes: is it the right file?", path, maxSecretFileBytes)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", "", fmt.Errorf("secret file %s is empty", path)
	}
	warn := ""
	if looseMode(st.Mode()) {
		warn = fmt.Sprintf("secret file %s is readable by group or others (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	return Secret(secret), warn, nil
}

// entryLabel names a list entry in messages: enroll_secrets[1] ("laptops",
// from SHADOWMAP_ENROLL_SECRET).
func (c *Config) entryLabel(list string, i int, name string) string {
	key := fmt.Sprintf("%s[%d]", list, i)
	label := fmt.Sprintf("%s (%q", key, name)
	if o, ok := c.origin[key]; ok {
		label += ", from " + o
	}
	return label + ")"
}
