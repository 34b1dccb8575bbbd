package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
)

// What the settings page changes at run time: enroll secrets made here,
// the digest recipients and the retention override. IdP and mail
// credentials stay in the configuration file: the importers are built
// with them when the collector starts.

const (
	// enrollSecretBytes is the randomness of a generated enroll secret:
	// 256 bits, like a device token.
	enrollSecretBytes = 32
	// maxSettingsFormBytes bounds a settings form's body.
	maxSettingsFormBytes = 64 << 10
	// maxRecipientsText bounds the recipients box: 50 long addresses
	// with separators.
	maxRecipientsText = 16 << 10
)

// secretNamePattern is what an enroll secret made here may be called: it
// is written in device records, logs and MDM notes, so plain and short.
var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// settingsSaved are the messages a successful form redirects to, by the
// ?saved= value; anything else shows nothing, so the URL cannot put words
// on the page.
var settingsSaved = map[string]string{
	"revoked":    "Enroll secret revoked: new enrollments with it are refused, and the agents enrolled with it are refused until they enroll again.",
	"recipients": "Digest recipients saved.",
	"retention":  "Retention saved; the next purge uses it.",
}

func (s *Server) settingsRoutes() {
	s.mux.HandleFunc("GET /settings", s.signedIn(s.settingsPage))
	// Bodies are capped before signedIn reads the CSRF field from them.
	for path, h := range map[string]func(http.ResponseWriter, *http.Request, session){
		"/settings/enroll-secrets":        s.createEnrollSecret,
		"/settings/enroll-secrets/revoke": s.revokeEnrollSecret,
		"/settings/digest-recipients":     s.saveDigestRecipients,
		"/settings/retention":             s.saveRetention,
	} {
		s.mux.HandleFunc("POST "+path, limitBody(maxSettingsFormBytes, s.signedIn(h)))
	}
}

// settingsPageData is what settings.html shows.
type settingsPageData struct {
	SettingsView
	// Saved is the message of the form just saved, "" for none.
	Saved string
	// Editable parts: false when the collector gave no store for them.
	CanEditSecrets, CanEditRecipients, CanEditRetention bool

	StoredSecrets []collector.EnrollSecret
	// NewSecret is the secret just made: its value is on this answer
	// only, never stored or shown again.
	NewSecret  *newSecret
	SecretForm nameForm
	RevokeForm revokeForm

	Recipients     []string
	RecipientsForm textForm

	Override collector.RetentionOverride
	// EffectiveEvidence and EffectiveAggregates are what the purge uses.
	EffectiveEvidence, EffectiveAggregates string
	RetentionForm                          retentionForm
}

type newSecret struct{ Name, Value string }

type nameForm struct{ Name, Error string }

type revokeForm struct{ Name, Confirm, Error string }

type textForm struct{ Text, Error string }

type retentionForm struct {
	Evidence, Aggregates string
	Errors               map[string]string
}

// settingsData reads what the page shows; the forms start from the
// stored values.
func (s *Server) settingsData(r *http.Request) (settingsPageData, error) {
	ctx := r.Context()
	d := settingsPageData{
		CanEditSecrets:    s.opts.EnrollSecrets != nil,
		CanEditRecipients: s.opts.DigestRecipients != nil,
		CanEditRetention:  s.opts.Retention != nil,
	}
	if s.opts.Settings != nil {
		d.SettingsView = s.opts.Settings()
	}
	var err error
	if s.opts.EnrollSecrets != nil {
		if d.StoredSecrets, err = s.opts.EnrollSecrets.EnrollSecrets(ctx); err != nil {
			return d, err
		}
	}
	if s.opts.DigestRecipients != nil {
		if d.Recipients, err = s.opts.DigestRecipients.DigestRecipients(ctx); err != nil {
			return d, err
		}
		d.RecipientsForm.Text = strings.Join(d.Recipients, "\n")
	}
	d.EffectiveEvidence, d.EffectiveAggregates = d.EvidenceRetention, d.AggregateRetention
	if s.opts.Retention != nil {
		if d.Override, err = s.opts.Retention.RetentionOverride(ctx); err != nil {
			return d, err
		}
		d.EffectiveEvidence = cmpOr(d.Override.Evidence, d.EvidenceRetention)
		d.EffectiveAggregates = cmpOr(d.Override.Aggregates, d.AggregateRetention)
		d.RetentionForm = retentionForm{Evidence: d.Override.Evidence, Aggregates: d.Override.Aggregates}
	}
	return d, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, sess session, d settingsPageData) {
	s.render(w, r, status, "settings", page{Title: "Settings", Nav: "settings", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, sess session) {
	d, err := s.settingsData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Saved = settingsSaved[r.URL.Query().Get("saved")]
	s.renderSettings(w, r, http.StatusOK, sess, d)
}

// settingsForm starts a settings form's handler: a form whose store the
// collector did not give is a 404 (the route caps the body). When it
// returns false it has answered.
func (s *Server) settingsForm(w http.ResponseWriter, r *http.Request, editable bool) bool {
	if !editable {
		s.notFound(w, r)
		return false
	}
	if r.ParseForm() != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return false
	}
	return true
}

// createEnrollSecret makes a secret with a generated value, stores its
// SHA-256 and shows the value once, on this answer: it is not redirected,
// so a reload asks to resend the form rather than showing it again.
func (s *Server) createEnrollSecret(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.settingsForm(w, r, s.opts.EnrollSecrets != nil) {
		return
	}
	d, err := s.settingsData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	d.SecretForm.Name = name
	switch {
	case !secretNamePattern.MatchString(name):
		d.SecretForm.Error = "Give it a name of 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit (for example laptops-2026)."
	case slices.ContainsFunc(d.EnrollSecrets, func(v SecretView) bool { return v.Name == name }):
		d.SecretForm.Error = "The configuration file already has an enroll secret with this name; pick another."
	}
	if d.SecretForm.Error != "" {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, sess, d)
		return
	}
	raw := make([]byte, enrollSecretBytes)
	if _, err := rand.Read(raw); err != nil {
		s.fail(w, r, fmt.Errorf("web: generate enroll secret: %w", err))
		return
	}
	value := base64.RawURLEncoding.EncodeToString(raw)
	// The collector compares SHA-256(presented) with this hash.
	hash := sha256.Sum256([]byte(value))
	err = s.opts.EnrollSecrets.CreateEnrollSecret(r.Context(), collector.EnrollSecret{
		Name: name, Hash: hash[:], CreatedBy: sess.Email, CreatedAt: s.opts.Now().UTC(),
	})
	if errors.Is(err, collector.ErrEnrollSecretExists) {
		d.SecretForm.Error = "An enroll secret with this name exists already (perhaps revoked); names are never reused, pick another."
		s.renderSettings(w, r, http.StatusUnprocessableEntity, sess, d)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: enroll secret created", "name", name, "by", sess.Email)
	if d, err = s.settingsData(r); err != nil {
		s.fail(w, r, err)
		return
	}
	d.NewSecret = &newSecret{Name: name, Value: value}
	s.renderSettings(w, r, http.StatusOK, sess, d)
}

// revokeEnrollSecret revokes a secret made here once its name is typed
// again in the confirmation field.
func (s *Server) revokeEnrollSecret(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.settingsForm(w, r, s.opts.EnrollSecrets != nil) {
		return
	}
	d, err := s.settingsData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name, confirm := r.PostFormValue("name"), strings.TrimSpace(r.PostFormValue("confirm"))
	i := slices.IndexFunc(d.StoredSecrets, func(sec collector.EnrollSecret) bool { return sec.Name == name })
	if i < 0 {
		s.notFound(w, r)
		return
	}
	if confirm != name {
		d.RevokeForm = revokeForm{Name: name, Confirm: confirm, Error: "Type the secret's name to confirm: agents enrolled with it will be refused until they enroll again."}
		s.renderSettings(w, r, http.StatusUnprocessableEntity, sess, d)
		return
	}
	err = s.opts.EnrollSecrets.RevokeEnrollSecret(r.Context(), name, sess.Email, s.opts.Now().UTC())
	if isNotFound(err) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: enroll secret revoked", "name", name, "by", sess.Email)
	http.Redirect(w, r, "/settings?saved=revoked#enroll-secrets", http.StatusSeeOther)
}

func (s *Server) saveDigestRecipients(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.settingsForm(w, r, s.opts.DigestRecipients != nil) {
		return
	}
	text := r.PostFormValue("recipients")
	var list []string
	var problem string
	if len(text) > maxRecipientsText {
		problem = fmt.Sprintf("The list is longer than %d addresses can be.", collector.MaxDigestRecipients)
	} else if l, err := collector.ParseDigestRecipients(text); err != nil {
		problem = "Not saved: " + err.Error() + ". Write one address per line, like it@example.com."
	} else {
		list = l
	}
	if problem != "" {
		d, err := s.settingsData(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.RecipientsForm = textForm{Text: text, Error: problem}
		s.renderSettings(w, r, http.StatusUnprocessableEntity, sess, d)
		return
	}
	if err := s.opts.DigestRecipients.SetDigestRecipients(r.Context(), list); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: digest recipients saved", "count", len(list), "by", sess.Email)
	http.Redirect(w, r, "/settings?saved=recipients#digest", http.StatusSeeOther)
}

func (s *Server) saveRetention(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.settingsForm(w, r, s.opts.Retention != nil) {
		return
	}
	o := collector.RetentionOverride{
		Evidence:   strings.TrimSpace(r.PostFormValue("evidence")),
		Aggregates: strings.TrimSpace(r.PostFormValue("aggregates")),
		By:         sess.Email,
		At:         s.opts.Now().UTC(),
	}
	// The view writes the configuration's periods as ParsePeriod reads
	// them; a view without them (tests) falls back to the defaults.
	def := config.Default().Retention
	cfgEvidence, cfgAggregates := def.Evidence, def.Aggregates
	if s.opts.Settings != nil {
		v := s.opts.Settings()
		cfgEvidence, cfgAggregates = parsedOr(v.EvidenceRetention, def.Evidence), parsedOr(v.AggregateRetention, def.Aggregates)
	}
	if _, _, errs := EffectiveRetention(cfgEvidence, cfgAggregates, o); len(errs) > 0 {
		d, err := s.settingsData(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.RetentionForm = retentionForm{Evidence: o.Evidence, Aggregates: o.Aggregates, Errors: errs}
		s.renderSettings(w, r, http.StatusUnprocessableEntity, sess, d)
		return
	}
	if err := s.opts.Retention.SetRetentionOverride(r.Context(), o); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: retention saved", "evidence", o.Evidence, "aggregates", o.Aggregates, "by", sess.Email)
	http.Redirect(w, r, "/settings?saved=retention#retention", http.StatusSeeOther)
}

func parsedOr(s string, def config.Period) config.Period {
	if p, err := config.ParsePeriod(s); err == nil {
		return p
	}
	return def
}

// EffectiveRetention applies the override o over the configuration's
// periods and checks the result with the configuration's rules: each
// period parses (config.ParsePeriod) and reaches back at least a day, and
// aggregates are kept at least as long as evidence. errs maps the form
// field ("evidence", "aggregates") to what is wrong; when it is not empty
// the periods are the configuration's. The purge uses it too, so the
// page and the purge never disagree.
func EffectiveRetention(cfgEvidence, cfgAggregates config.Period, o collector.RetentionOverride) (evidence, aggregates config.Period, errs map[string]string) {
	evidence, aggregates = cfgEvidence, cfgAggregates
	errs = map[string]string{}
	read := func(field, text string, into *config.Period) {
		if text == "" {
			return
		}
		p, err := config.ParsePeriod(text)
		switch {
		case err != nil:
			errs[field] = "Write a period like 90d, 2w, 13mo or 1y."
		case p.Shorter(config.Days(1)):
			errs[field] = "Keep it at least a day (1d); months are mo, as in 13mo."
		default:
			*into = p
		}
	}
	read("evidence", o.Evidence, &evidence)
	read("aggregates", o.Aggregates, &aggregates)
	if len(errs) == 0 && aggregates.Shorter(evidence) {
		errs["aggregates"] = fmt.Sprintf("Aggregates are built from evidence: keep them at least as long as evidence (%s).", evidence)
	}
	if len(errs) > 0 {
		return cfgEvidence, cfgAggregates, errs
	}
	return evidence, aggregates, nil
}

// SettingsView is what the settings page shows of the collector's
// configuration: names, states and file paths, never a secret's value.
// The service fills it from its configuration (SettingsFromConfig).
type SettingsView struct {
	// ConfigFile is the configuration file read, "" when none was.
	ConfigFile    string
	EnrollSecrets []SecretView
	AdminTokens   []SecretView
	Importers     []ImporterView
	// ImportInterval is how often serve runs the importers.
	ImportInterval string
	// EvidenceRetention, AggregateRetention and PurgeInterval are the
	// retention keys as the configuration writes them (90d, 13mo, 1h0m0s).
	EvidenceRetention  string
	AggregateRetention string
	PurgeInterval      string
	// UnknownDomainK is how many devices must see an unknown domain
	// before it is shown.
	UnknownDomainK int
	EmailDomain    string
}

// SecretView names an enroll secret or admin token and where its value
// lives.
type SecretView struct {
	Name string
	// From is "file PATH" or "inline in the configuration file".
	From    string
	Revoked bool
}

// ImporterView is one importer: whether it is configured, how, and the
// configuration keys that change it.
type ImporterView struct {
	Name       string
	Configured bool
	// How says what it reads with, in words: "service account acting as
	// it@acme.example", "IMAP ap@acme.example on imap.acme.example:993".
	How string
	// CredentialFiles are the files holding its credentials (never their
	// contents); Inline is true when a credential is written in the
	// configuration file itself.
	CredentialFiles []string
	Inline          bool
	// Key is the configuration key of its section.
	Key string
}

// SettingsFromConfig builds the settings page's view of cfg. It copies
// names, files and periods only: secret values stay in cfg.
func SettingsFromConfig(cfg config.Config) SettingsView {
	v := SettingsView{
		ConfigFile:         cfg.File,
		ImportInterval:     cfg.Sources.Interval.String(),
		EvidenceRetention:  cfg.Retention.Evidence.String(),
		AggregateRetention: cfg.Retention.Aggregates.String(),
		PurgeInterval:      cfg.Retention.PurgeInterval.String(),
		UnknownDomainK:     cfg.UnknownDomainK,
		EmailDomain:        cfg.EmailDomain,
	}
	from := func(file string) string {
		if file != "" {
			return "file " + file
		}
		return "inline in the configuration file"
	}
	for _, s := range cfg.EnrollSecrets {
		v.EnrollSecrets = append(v.EnrollSecrets, SecretView{Name: s.Name, From: from(s.SecretFile), Revoked: s.Revoked})
	}
	for _, t := range cfg.AdminTokens {
		v.AdminTokens = append(v.AdminTokens, SecretView{Name: t.Name, From: from(t.TokenFile), Revoked: t.Revoked})
	}
	src := cfg.Sources
	files := func(fs ...string) []string {
		var out []string
		for _, f := range fs {
			if f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	g := ImporterView{Name: "Google Workspace", Key: "sources.google", Configured: src.Google.Enabled(),
		CredentialFiles: files(src.Google.CredentialsFile)}
	if g.Configured {
		g.How = "service account with domain-wide delegation, acting as " + src.Google.AdminEmail
	}
	o := ImporterView{Name: "Okta", Key: "sources.okta", Configured: src.Okta.Enabled(), CredentialFiles: files(src.Okta.TokenFile)}
	if o.Configured {
		o.How = "API token of a read-only admin at " + src.Okta.URL
		o.Inline = src.Okta.TokenFile == "" && src.Okta.Token != ""
	}
	e := ImporterView{Name: "Microsoft Entra ID", Key: "sources.entra", Configured: src.Entra.Enabled(), CredentialFiles: files(src.Entra.ClientSecretFile)}
	if e.Configured {
		e.How = "app registration " + src.Entra.ClientID + " in tenant " + src.Entra.TenantID
		e.Inline = src.Entra.ClientSecretFile == "" && src.Entra.ClientSecret != ""
	}
	z := ImporterView{Name: "DNS zone (TXT verification records)", Key: "sources.dns_zone", Configured: src.DNSZone.Enabled()}
	if z.Configured {
		z.How = "TXT records of " + strings.Join(src.DNSZone.Domains, ", ")
		if src.DNSZone.Resolver != "" {
			z.How += " via " + src.DNSZone.Resolver
		}
	}
	m := ImporterView{Name: "Mailboxes (IMAP)", Key: "sources.mail.mailboxes", Configured: src.Mail.Enabled()}
	var boxes []string
	for _, b := range src.Mail.Mailboxes {
		boxes = append(boxes, fmt.Sprintf("%s (%s at %s:%d, TLS %s, auth %s)", b.Name, b.Username, b.Host, b.Port, b.TLS, b.Auth))
		m.CredentialFiles = append(m.CredentialFiles, files(b.PasswordFile, b.CAFile)...)
		m.Inline = m.Inline || (b.PasswordFile == "" && b.Password != "")
	}
	m.How = strings.Join(boxes, "; ")
	v.Importers = []ImporterView{g, o, e, z, m}
	return v
}
