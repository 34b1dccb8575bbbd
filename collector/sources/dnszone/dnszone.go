// Package dnszone imports domain-verification TXT records from the
// company's own DNS zone. Vendors ask a customer to publish a token
// (slack-domain-verification=..., MS=ms...) to prove it owns a domain, and
// mail senders ask for SPF includes and DKIM keys; the zone therefore
// lists SaaS the company set up, whoever did it. Each record that a
// catalog app's dns_txt rule matches becomes dns_txt evidence.
//
// The importer asks one resolver (the configured one, or the system's)
// for TXT at each configured domain and at the hosts below it that
// catalog rules name (google._domainkey). It keeps no checkpoint: a run
// reads the whole zone's few records, and dedupe keys built from the
// record text make a daily run add nothing while a record stays.
package dnszone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/signatures"
)

// Name is the source's name in health, logs and `shadowmap import`.
const Name = "dnszone"

// Defaults for Options.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultResolvConf = "/etc/resolv.conf"
	defaultAttempts   = 3
	defaultBackoff    = 500 * time.Millisecond
)

// maxDetail caps the record text kept in evidence Detail.
const maxDetail = 120

// tokenShown is how many characters of the customer's token follow the
// matched prefix in Detail: enough to tell two records apart, too few to
// reuse the token elsewhere.
const tokenShown = 6

// ednsSize is the UDP payload size offered (the DNS flag day 2020 value:
// no IP fragmentation); larger answers come truncated and are re-asked
// over TCP.
const ednsSize = 1232

// Options tunes the importer.
type Options struct {
	// Retry governs retries of timeouts and SERVFAIL answers: Attempts
	// (default 3) tries per query, waiting Base (default 500ms) doubling
	// between them through Sleep (tests pass a fake). MaxWait caps a wait.
	Retry sources.Retry
	// Timeout bounds one exchange with the resolver; default 5s.
	Timeout time.Duration
	// ResolvConf is read for the system resolver when the config names
	// none; default /etc/resolv.conf.
	ResolvConf string
}

// Importer reads the configured domains' TXT records.
type Importer struct {
	domains  []string
	servers  []string // host:port, tried in order
	retry    sources.Retry
	udp, tcp *dns.Client
}

var _ sources.Importer = (*Importer)(nil)

// New builds the importer for cfg. Without cfg.Resolver it reads the
// system resolver from opts.ResolvConf and fails clearly when it cannot.
func New(cfg config.DNSZone, opts Options) (*Importer, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("dnszone: no domains configured (sources.dns_zone.domains)")
	}
	im := &Importer{retry: opts.Retry}
	seen := make(map[string]bool)
	for _, d := range cfg.Domains {
		n := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if _, ok := dns.IsDomainName(n); !ok || !strings.Contains(n, ".") {
			return nil, fmt.Errorf("dnszone: %q is not a domain name", d)
		}
		if !seen[n] {
			seen[n] = true
			im.domains = append(im.domains, n)
		}
	}
	if r := strings.TrimSpace(cfg.Resolver); r != "" {
		if _, _, err := net.SplitHostPort(r); err != nil {
			r = net.JoinHostPort(strings.Trim(r, "[]"), "53")
		}
		im.servers = []string{r}
	} else {
		path := opts.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("dnszone: read the system resolver from %s: %w (set sources.dns_zone.resolver to a DNS server, host:port)", path, err)
		}
		for _, s := range cc.Servers {
			im.servers = append(im.servers, net.JoinHostPort(s, cc.Port))
		}
		if len(im.servers) == 0 {
			return nil, fmt.Errorf("dnszone: %s names no nameserver (set sources.dns_zone.resolver to a DNS server, host:port)", path)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	im.udp = &dns.Client{Net: "udp", Timeout: timeout, UDPSize: ednsSize}
	im.tcp = &dns.Client{Net: "tcp", Timeout: timeout}
	if im.retry.Attempts <= 0 {
		im.retry.Attempts = defaultAttempts
	}
	if im.retry.Base <= 0 {
		im.retry.Base = defaultBackoff
	}
	if im.retry.MaxWait <= 0 {
		im.retry.MaxWait = 30 * time.Second
	}
	if im.retry.Sleep == nil {
		im.retry.Sleep = sources.Sleep
	}
	return im, nil
}

// Name returns "dnszone".
func (im *Importer) Name() string { return Name }

// Import reads every configured domain. A domain that fails (NXDOMAIN: a
// typo in the config; a resolver that keeps failing) does not stop the
// others; the run's error names each failed domain.
func (im *Importer) Import(ctx context.Context, env *sources.Env) error {
	hosts := env.Catalog.TXTHosts()
	var errs []error
	for _, domain := range im.domains {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		env.Progress.SetStage("TXT records of " + domain)
		if err := im.importDomain(ctx, env, domain, hosts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (im *Importer) importDomain(ctx context.Context, env *sources.Env, domain string, hosts []string) error {
	now := env.Now().UTC()
	var ev []collector.Evidence
	for _, host := range append([]string{""}, hosts...) {
		name := domain
		if host != "" {
			name = host + "." + domain
		}
		records, err := im.lookupTXT(ctx, name)
		switch {
		case errors.Is(err, errNXDomain) && host != "":
			continue // the vendor's host is simply not there
		case errors.Is(err, errNXDomain):
			return fmt.Errorf("dns zone %s: the domain does not exist (NXDOMAIN): check sources.dns_zone.domains for a typo", domain)
		case err != nil:
			return fmt.Errorf("dns zone %s: TXT %s: %w", domain, name, err)
		}
		env.Progress.AddEvents(int64(len(records)))
		for _, rec := range records {
			ev = append(ev, evidenceFor(env.Catalog, domain, host, rec, now)...)
		}
	}
	if _, err := env.AddEvidence(ctx, ev); err != nil {
		return fmt.Errorf("dns zone %s: %w", domain, err)
	}
	return nil
}

// evidenceFor turns one TXT record found at host under domain into
// evidence, one row per app it names.
func evidenceFor(c *signatures.Catalog, domain, host, record string, now time.Time) []collector.Evidence {
	matches := c.MatchTXTAt(host, record)
	if len(matches) == 0 {
		return nil
	}
	sum := sha256.Sum256([]byte(record))
	hash := hex.EncodeToString(sum[:])[:16]
	owner := domain
	if host != "" {
		owner = host + "." + domain
	}
	out := make([]collector.Evidence, 0, len(matches))
	for _, m := range matches {
		detail := "TXT " + owner + ": " + shorten(record, m.End)
		if m.Rule.Note != "" {
			detail += " (" + m.Rule.Note + ")"
		}
		out = append(out, collector.Evidence{
			AppID:     m.App.ID,
			Source:    collector.SourceDNSTXT,
			Day:       now.Format(time.DateOnly),
			FirstSeen: now,
			LastSeen:  now,
			Count:     1,
			Domain:    domain,
			Detail:    truncate(detail, 2*maxDetail),
			DedupeKey: "dnszone:" + domain + ":" + m.App.ID + ":" + hash,
		})
	}
	return out
}

// shorten keeps the matched part of a record and the start of what
// follows (the customer's token), marking the cut, and makes the text
// printable: records are outside bytes.
func shorten(record string, end int) string {
	keep := min(len(record), end+tokenShown, maxDetail)
	s := printable(record[:keep])
	if keep < len(record) {
		s += "…"
	}
	return s
}

// printable replaces invalid UTF-8 and control characters with '?'.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// errNXDomain is a name that does not exist.
var errNXDomain = errors.New("NXDOMAIN")

// lookupTXT asks for name's TXT records and returns each record's strings
// joined (a record longer than 255 bytes is split into strings on the
// wire). It retries timeouts and SERVFAIL, and re-asks over TCP when the
// UDP answer is truncated.
func (im *Importer) lookupTXT(ctx context.Context, name string) ([]string, error) {
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	msg.RecursionDesired = true
	msg.SetEdns0(ednsSize, false)
	var last error
	wait := im.retry.Base
	for attempt := 1; attempt <= im.retry.Attempts; attempt++ {
		if attempt > 1 {
			if err := im.retry.Sleep(ctx, min(wait, im.retry.MaxWait)); err != nil {
				return nil, err
			}
			wait *= 2
		}
		for _, server := range im.servers {
			r, err := im.exchange(ctx, msg, server)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				last = fmt.Errorf("resolver %s: %w", server, err)
				continue
			}
			switch r.Rcode {
			case dns.RcodeSuccess:
				return txtStrings(r), nil
			case dns.RcodeNameError:
				return nil, errNXDomain
			case dns.RcodeServerFailure:
				last = fmt.Errorf("resolver %s answered SERVFAIL (the zone's nameservers failed or DNSSEC validation failed)", server)
			case dns.RcodeRefused:
				// Retrying a refusal does not help: say what to fix.
				return nil, fmt.Errorf("resolver %s refused the query: it does not resolve for this host; set sources.dns_zone.resolver", server)
			default:
				return nil, fmt.Errorf("resolver %s answered %s", server, dns.RcodeToString[r.Rcode])
			}
		}
	}
	return nil, fmt.Errorf("%w (after %d attempts)", last, im.retry.Attempts)
}

// exchange sends msg over UDP and, when the answer is truncated, again
// over TCP.
func (im *Importer) exchange(ctx context.Context, msg *dns.Msg, server string) (*dns.Msg, error) {
	r, _, err := im.udp.ExchangeContext(ctx, msg, server)
	if err != nil {
		return nil, err
	}
	if !r.Truncated {
		return r, nil
	}
	r, _, err = im.tcp.ExchangeContext(ctx, msg, server)
	if err != nil {
		return nil, fmt.Errorf("the UDP answer was truncated and TCP failed: %w", err)
	}
	return r, nil
}

// txtStrings returns the answer's TXT records, each one's strings
// joined. Records of other types (the CNAMEs of a chain) are skipped.
// miekg/dns shows quotes, backslashes and unprintable bytes inside a
// string escaped (\", \\, \DDD); verification tokens never contain them, so
// the escaped form is matched as it is.
func txtStrings(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out
}
