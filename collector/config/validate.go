package config

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/internal/loopback"
)

// Limits Validate enforces.
const (
	// MinSecretBytes is the shortest enroll secret or admin token
	// accepted: 16 random bytes are out of reach of guessing.
	MinSecretBytes = 16
	// MinMaxBodyBytes is the smallest ingest.max_body_bytes: below it no
	// real batch fits.
	MinMaxBodyBytes = 1 << 10
	// MinRetention is the shortest retention period: shorter is almost
	// always "13m" (minutes) written for "13mo" (months).
	MinRetention = 24 * time.Hour
	// MinPurgeInterval keeps the purge job from spinning.
	MinPurgeInterval = time.Minute
)

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

// Validate checks the configuration and returns a *ValidationError
// naming every problem, or nil. It reads the TLS files to check that they
// make a key pair. Messages name keys and values but never a secret.
func (c Config) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if err := checkListen(c.Listen); err != nil {
		bad("listen %q%s: %v", c.Listen, c.from("listen"), err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir is empty%s", c.from("data_dir"))
	}
	if strings.TrimSpace(c.Database) == "" {
		bad("database is empty%s", c.from("database"))
	}
	if err := checkTLS(c.TLS); err != nil {
		bad("%v", err)
	}
	c.validateProxies(bad)
	if c.Log.Format != LogText && c.Log.Format != LogJSON {
		bad("log.format %q%s: want text or json", c.Log.Format, c.from("log.format"))
	}
	if _, ok := logLevels[c.Log.Level]; !ok {
		bad("log.level %q%s: want debug, info, warn or error", c.Log.Level, c.from("log.level"))
	}
	c.validateSources(bad)
	c.validateOIDC(bad)
	c.validateDigest(bad)

	type credential struct {
		label   string
		value   Secret
		revoked bool
	}
	var enroll, admin []credential
	for i, e := range c.EnrollSecrets {
		enroll = append(enroll, credential{c.entryLabel("enroll_secrets", i, e.Name), e.Secret, e.Revoked})
	}
	for i, t := range c.AdminTokens {
		admin = append(admin, credential{c.entryLabel("admin_tokens", i, t.Name), t.Token, t.Revoked})
	}
	checkNames := func(list string, names []string) {
		first := make(map[string]int)
		for i, n := range names {
			label := c.entryLabel(list, i, n)
			if err := checkName(n); err != nil {
				bad("%s: %v", label, err)
				continue
			}
			if j, dup := first[n]; dup {
				hint := ""
				if n == EnvEntryName {
					hint = " (SHADOWMAP_ENROLL_SECRET, SHADOWMAP_ADMIN_TOKEN and their _FILE forms each add one named env)"
				}
				bad("%s: name %q is already used by %s[%d]%s", label, n, list, j, hint)
				continue
			}
			first[n] = i
		}
	}
	var enrollNames, adminNames []string
	for _, e := range c.EnrollSecrets {
		enrollNames = append(enrollNames, e.Name)
	}
	for _, t := range c.AdminTokens {
		adminNames = append(adminNames, t.Name)
	}
	checkNames("enroll_secrets", enrollNames)
	checkNames("admin_tokens", adminNames)

	checkValues := func(what, fileKey string, creds []credential) {
		for _, cr := range creds {
			switch {
			case cr.value == "" && !cr.revoked:
				bad("%s: no %s: set it inline or with %s", cr.label, what, fileKey)
			case cr.value != "" && len(cr.value) < MinSecretBytes:
				bad("%s: the %s is shorter than %d bytes; make one with: openssl rand -base64 32", cr.label, what, MinSecretBytes)
			}
		}
	}
	checkValues("secret", "secret_file", enroll)
	checkValues("token", "token_file", admin)
	// One value in two places is a mistake either way: two enroll secrets
	// cannot be told apart, and an enroll secret sits on every laptop, so
	// as an admin token it would make every laptop an admin.
	all := append(append([]credential(nil), enroll...), admin...)
	for i := range all {
		for j := range i {
			if all[i].value != "" && all[i].value == all[j].value {
				bad("%s has the same value as %s: every secret and token must be different", all[i].label, all[j].label)
			}
		}
	}

	if r := c.Ingest.RateLimit; !(r > 0) || math.IsInf(r, 0) {
		bad("ingest.rate_limit %v%s: want a number of batches per second above 0", r, c.from("ingest.rate_limit"))
	}
	if c.Ingest.Burst < 1 {
		bad("ingest.burst %d%s: want at least 1", c.Ingest.Burst, c.from("ingest.burst"))
	}
	if b := c.Ingest.MaxBodyBytes; b < MinMaxBodyBytes || b > api.MaxBatchBytes {
		bad("ingest.max_body_bytes %d%s: want %d to %d", b, c.from("ingest.max_body_bytes"), MinMaxBodyBytes, api.MaxBatchBytes)
	}

	for _, r := range []struct {
		key string
		p   Period
	}{{"retention.evidence", c.Retention.Evidence}, {"retention.aggregates", c.Retention.Aggregates}} {
		if r.p.Shorter(PeriodOf(MinRetention)) {
			bad("%s %s%s: want at least a day (months are mo: 13mo)", r.key, r.p, c.from(r.key))
		}
	}
	if c.Retention.Aggregates.Shorter(c.Retention.Evidence) {
		bad("retention.aggregates %s is shorter than retention.evidence %s: aggregates are kept at least as long as the evidence they sum",
			c.Retention.Aggregates, c.Retention.Evidence)
	}
	if c.Retention.PurgeInterval < MinPurgeInterval {
		bad("retention.purge_interval %s%s: want at least %s", c.Retention.PurgeInterval, c.from("retention.purge_interval"), MinPurgeInterval)
	}
	if c.UnknownDomainK < 1 {
		bad("unknown_domain_k %d%s: want at least 1", c.UnknownDomainK, c.from("unknown_domain_k"))
	}
	if err := checkEmailDomain(c.EmailDomain); err != nil {
		bad("email_domain %q%s: %v", c.EmailDomain, c.from("email_domain"), err)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout %s%s: want a duration above 0", c.ShutdownTimeout, c.from("shutdown_timeout"))
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// checkListen accepts host:port with a numeric port; port 0 picks a free
// one (tests use it). The host may be empty (every address), an IP or a
// name.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:8080 or :8080 (%v)", err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("host %q is not an address or a name", host)
	}
	return nil
}

// checkTLS wants both files or neither, readable, and making a key pair.
func checkTLS(t TLS) error {
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		return nil
	case t.KeyFile == "":
		return fmt.Errorf("tls.cert_file is set but tls.key_file is not: set both or neither")
	case t.CertFile == "":
		return fmt.Errorf("tls.key_file is set but tls.cert_file is not: set both or neither")
	}
	certPEM, err := readPEMFile(t.CertFile)
	if err != nil {
		return fmt.Errorf("tls.cert_file: %w", err)
	}
	keyPEM, err := readPEMFile(t.KeyFile)
	if err != nil {
		return fmt.Errorf("tls.key_file: %w", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("tls.cert_file %s and tls.key_file %s are not a usable key pair: %w", t.CertFile, t.KeyFile, err)
	}
	return nil
}

// maxPEMBytes caps a certificate chain or key file.
const maxPEMBytes = 1 << 20

// readPEMFile reads a regular file of at most maxPEMBytes, so that a
// mistaken /dev/zero or a pipe fails instead of hanging the start.
func readPEMFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > maxPEMBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMBytes)
	}
	return os.ReadFile(path)
}

// checkName keeps entry names to what reads well in logs and URLs.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("name is missing")
	}
	if len(name) > 64 {
		return fmt.Errorf("name is longer than 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// checkEmailDomain accepts "" (off) or an ASCII domain name.
func checkEmailDomain(d string) error {
	if d == "" {
		return nil
	}
	if strings.Contains(d, "@") {
		return fmt.Errorf("write the domain without @ (example.com)")
	}
	if len(d) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("want a domain name such as example.com")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("a label cannot start or end with '-'")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("want a domain name of letters, digits and '-' (punycode for international names)")
			}
		}
	}
	return nil
}

// advice returns warnings about a valid configuration that is probably
// not what was meant.
func (c Config) advice() []string {
	var w []string
	if !c.TLS.Enabled() && !isLoopback(c.Listen) {
		w = append(w, fmt.Sprintf("listening on %s with plain HTTP: device tokens and admin tokens cross the network in clear unless a TLS proxy is in front", c.Listen))
	}
	if c.TLS.Enabled() {
		if st, err := os.Stat(c.TLS.KeyFile); err == nil && looseMode(st.Mode()) {
			w = append(w, fmt.Sprintf("tls.key_file %s is readable by group or others (mode %04o): chmod 600 it", c.TLS.KeyFile, st.Mode().Perm()))
		}
		if pair, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile); err == nil && pair.Leaf != nil {
			if time.Now().After(pair.Leaf.NotAfter) {
				w = append(w, fmt.Sprintf("tls.cert_file %s expired on %s", c.TLS.CertFile, pair.Leaf.NotAfter.Format(time.DateOnly)))
			}
		}
	}
	w = append(w, c.proxyAdvice()...)
	if c.UnknownDomainK < DefaultUnknownDomainK {
		w = append(w, fmt.Sprintf("unknown_domain_k is %d: an unknown domain seen by so few devices can point at one person", c.UnknownDomainK))
	}
	if !anyActive(len(c.EnrollSecrets), func(i int) bool { return c.EnrollSecrets[i].Revoked }) {
		w = append(w, "no active enroll secret: agents cannot enroll (set enroll_secrets or SHADOWMAP_ENROLL_SECRET)")
	}
	if !anyActive(len(c.AdminTokens), func(i int) bool { return c.AdminTokens[i].Revoked }) {
		w = append(w, "no active admin token: the admin JSON API refuses every request (set admin_tokens or SHADOWMAP_ADMIN_TOKEN)")
	}
	return w
}

func anyActive(n int, revoked func(int) bool) bool {
	for i := range n {
		if !revoked(i) {
			return true
		}
	}
	return false
}

// isLoopback reports whether addr's host is a loopback address or
// localhost; "" and 0.0.0.0 mean every interface and are not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return loopback.Host(host)
}
