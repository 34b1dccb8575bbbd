package web

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"unicode"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
)

// The importers' IdP and mail credentials, set from the web view: each
// value is written to a 0600 file under the data directory (never to the
// database, never to a log) and is never shown back. The collector reads
// it in place of the configuration's at the start of the next import
// round, so no restart is needed; removing it returns to the
// configuration's value.

const (
	// maxCredentialFormBytes bounds a credential form's body: a key of
	// collector.MaxCredentialBytes pasted or uploaded, with the
	// multipart framing around it.
	maxCredentialFormBytes = 2*collector.MaxCredentialBytes + 16<<10
	// maxCredentialMemory keeps an uploaded key in memory, never in a
	// temporary file: the body cap above is below it.
	maxCredentialMemory = 1 << 20
)

// Kinds of credential, which decide the form and its checks.
const (
	credentialToken      = "token"
	credentialPassword   = "password"
	credentialGoogleKey  = "google-key"
	credentialOAuthToken = "oauth-token"
)

// CredentialSlot is a credential the configuration uses, which the
// settings page can replace. It holds where the configuration keeps the
// value, never the value.
type CredentialSlot struct {
	// Key is the collector.Credential* key it replaces.
	Key string
	// Label names it on the page: "Okta API token".
	Label string
	// Kind is token, password, oauth-token or google-key.
	Kind string
	// ConfigFile is the configuration file, "" when none was read;
	// ValueFile the file the configuration reads the value from, ""
	// when it is inline.
	ConfigFile, ValueFile string
	// ConfigKey is the configuration key the value is read from.
	ConfigKey string
}

// CredentialSlotsFromConfig lists the credentials of the configured
// importers, in the importers' order.
func CredentialSlotsFromConfig(cfg config.Config) []CredentialSlot {
	src := cfg.Sources
	var out []CredentialSlot
	add := func(key, label, kind, file, fileKey, inlineKey string) {
		configKey := inlineKey
		if file != "" {
			configKey = fileKey
		}
		out = append(out, CredentialSlot{Key: key, Label: label, Kind: kind, ConfigFile: cfg.File, ValueFile: file, ConfigKey: configKey})
	}
	if src.Google.Enabled() {
		add(collector.CredentialGoogleKey, "Google Workspace service-account key (JSON)", credentialGoogleKey,
			src.Google.CredentialsFile, "sources.google.credentials_file", "sources.google.credentials_file")
	}
	if src.Okta.Enabled() {
		add(collector.CredentialOktaToken, "Okta API token", credentialToken, src.Okta.TokenFile, "sources.okta.token_file", "sources.okta.token")
	}
	if src.Entra.Enabled() {
		add(collector.CredentialEntraSecret, "Microsoft Entra ID client secret", credentialToken,
			src.Entra.ClientSecretFile, "sources.entra.client_secret_file", "sources.entra.client_secret")
	}
	for i, m := range src.Mail.Mailboxes {
		label, kind := "Mailbox "+m.Name+" ("+m.Username+") password", credentialPassword
		if m.Auth == "xoauth2" {
			label, kind = "Mailbox "+m.Name+" ("+m.Username+") OAuth access token", credentialOAuthToken
		}
		prefix := fmt.Sprintf("sources.mail.mailboxes[%d].", i)
		add(collector.MailboxCredential(m.Name), label, kind, m.PasswordFile, prefix+"password_file", prefix+"password")
	}
	return out
}

// credentialsSaved are the messages a successful form redirects to, by
// ?saved=; anything else shows nothing.
var credentialsSaved = map[string]string{
	"set":     "Credential saved. The importers use it from their next round; `shadowmap import` uses it at once.",
	"removed": "Credential removed: the importers use the configuration file's again from their next round.",
}

func (s *Server) credentialRoutes() {
	s.mux.HandleFunc("GET /settings/credentials", s.signedIn(s.credentialsPage))
	// The body is capped before signedIn reads the CSRF field from it.
	s.mux.HandleFunc("POST /settings/credentials", limitBody(maxCredentialFormBytes, s.signedIn(s.setCredential)))
	s.mux.HandleFunc("POST /settings/credentials/remove", limitBody(maxCredentialFormBytes, s.signedIn(s.removeCredential)))
}

// limitBody refuses a body larger than n with 413 and caps what h reads.
func limitBody(n int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			http.Error(w, "The form is too large.", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h(w, r)
	}
}

// credentialsPageData is what credentials.html shows.
type credentialsPageData struct {
	Saved string
	// CanEdit is false when the collector gave no store or directory.
	CanEdit        bool
	ImportInterval string
	Rows           []credentialRow
}

// credentialRow is one credential: where its value comes from now, and
// its form's error.
type credentialRow struct {
	CredentialSlot
	// Override is set when the value in use was set on this page.
	Override *collector.CredentialOverride
	Error    string
}

func (s *Server) credentialsEditable() bool {
	return s.opts.Credentials != nil && s.opts.CredentialsDir != ""
}

func (s *Server) credentialsData(r *http.Request) (credentialsPageData, error) {
	d := credentialsPageData{CanEdit: s.credentialsEditable()}
	if s.opts.Settings != nil {
		d.ImportInterval = s.opts.Settings().ImportInterval
	}
	var overrides []collector.CredentialOverride
	if s.opts.Credentials != nil {
		var err error
		if overrides, err = s.opts.Credentials.CredentialOverrides(r.Context()); err != nil {
			return d, err
		}
	}
	for _, slot := range s.opts.CredentialSlots {
		row := credentialRow{CredentialSlot: slot}
		if i := slices.IndexFunc(overrides, func(o collector.CredentialOverride) bool { return o.Key == slot.Key }); i >= 0 {
			row.Override = &overrides[i]
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

func (s *Server) renderCredentials(w http.ResponseWriter, r *http.Request, status int, sess session, d credentialsPageData) {
	s.render(w, r, status, "credentials", page{Title: "IdP and mail credentials", Nav: "settings", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

func (s *Server) credentialsPage(w http.ResponseWriter, r *http.Request, sess session) {
	d, err := s.credentialsData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Saved = credentialsSaved[r.URL.Query().Get("saved")]
	s.renderCredentials(w, r, http.StatusOK, sess, d)
}

// slot finds a configured credential by key.
func (s *Server) slot(key string) (CredentialSlot, bool) {
	i := slices.IndexFunc(s.opts.CredentialSlots, func(c CredentialSlot) bool { return c.Key == key })
	if i < 0 {
		return CredentialSlot{}, false
	}
	return s.opts.CredentialSlots[i], true
}

// setCredential writes a credential's new value to its 0600 file and
// records the override. A value that does not pass the checks is shown
// as an error beside its form (422); the value itself is never echoed.
func (s *Server) setCredential(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.credentialsEditable() {
		s.notFound(w, r)
		return
	}
	if err := r.ParseMultipartForm(maxCredentialMemory); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	slot, ok := s.slot(r.PostFormValue("key"))
	if !ok {
		s.notFound(w, r)
		return
	}
	value, problem := credentialValue(r, slot.Kind)
	if problem == "" {
		problem = checkCredential(slot.Kind, value)
	}
	if problem != "" {
		s.credentialError(w, r, sess, slot.Key, problem)
		return
	}
	path, err := collector.WriteCredentialFile(s.opts.CredentialsDir, slot.Key, value)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.opts.Credentials.SetCredentialOverride(r.Context(), collector.CredentialOverride{
		Key: slot.Key, File: path, SetBy: sess.Email, SetAt: s.opts.Now().UTC(),
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: importer credential set", "key", slot.Key, "by", sess.Email)
	http.Redirect(w, r, "/settings/credentials?saved=set#"+slot.Key, http.StatusSeeOther)
}

// removeCredential deletes an override and its file: the importers go
// back to the configuration file's value.
func (s *Server) removeCredential(w http.ResponseWriter, r *http.Request, sess session) {
	if !s.credentialsEditable() {
		s.notFound(w, r)
		return
	}
	key := r.PostFormValue("key")
	overrides, err := s.opts.Credentials.CredentialOverrides(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(overrides, func(o collector.CredentialOverride) bool { return o.Key == key })
	if i < 0 {
		s.notFound(w, r)
		return
	}
	err = s.opts.Credentials.DeleteCredentialOverride(r.Context(), key)
	if isNotFound(err) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The override is gone, so the file is no longer read: a file that
	// cannot be deleted is only worth a warning.
	if err := collector.RemoveCredentialFile(overrides[i].File); err != nil {
		s.log.Warn("web: remove credential file", "key", key, "err", err)
	}
	s.log.Info("web: importer credential removed", "key", key, "by", sess.Email)
	http.Redirect(w, r, "/settings/credentials?saved=removed#"+key, http.StatusSeeOther)
}

func (s *Server) credentialError(w http.ResponseWriter, r *http.Request, sess session, key, problem string) {
	d, err := s.credentialsData(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range d.Rows {
		if d.Rows[i].Key == key {
			d.Rows[i].Error = problem
		}
	}
	s.renderCredentials(w, r, http.StatusUnprocessableEntity, sess, d)
}

// credentialValue is the value posted: the uploaded file (a Google key)
// when there is one, else the "value" field.
func credentialValue(r *http.Request, kind string) ([]byte, string) {
	if kind == credentialGoogleKey && r.MultipartForm != nil {
		if files := r.MultipartForm.File["file"]; len(files) > 0 && files[0].Size > 0 {
			if files[0].Size > collector.MaxCredentialBytes {
				return nil, fmt.Sprintf("The file is larger than %d KiB; a service-account key is about 2 KiB.", collector.MaxCredentialBytes>>10)
			}
			f, err := files[0].Open()
			if err != nil {
				return nil, "The uploaded file could not be read; try again or paste its contents."
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, collector.MaxCredentialBytes+1))
			if err != nil {
				return nil, "The uploaded file could not be read; try again or paste its contents."
			}
			return b, ""
		}
	}
	return []byte(r.PostFormValue("value")), ""
}

// checkCredential says what is wrong with a value, "" when nothing is.
// It never quotes the value.
func checkCredential(kind string, value []byte) string {
	if len(value) > collector.MaxCredentialBytes {
		return fmt.Sprintf("Longer than %d KiB: this is not a credential.", collector.MaxCredentialBytes>>10)
	}
	if kind == credentialGoogleKey {
		return checkServiceAccountKey(value)
	}
	v := strings.TrimSpace(string(value))
	switch {
	case v == "":
		return "Enter the new value; to go back to the configuration file's, use Remove."
	case strings.ContainsFunc(v, unicode.IsControl):
		return "It must be one line without control characters: paste the value alone."
	}
	if kind == credentialToken && strings.ContainsFunc(v, unicode.IsSpace) {
		return "A token has no spaces: paste the token alone."
	}
	return ""
}

// checkServiceAccountKey checks that value is a Google service-account
// JSON key: type service_account, a client_email and a PEM private_key.
func checkServiceAccountKey(value []byte) string {
	var key struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if len(strings.TrimSpace(string(value))) == 0 {
		return "Paste the service account's JSON key or upload its file."
	}
	if err := json.Unmarshal(value, &key); err != nil {
		return "This is not a JSON file: download the key again (IAM & Admin → Service accounts → Keys → Add key → JSON)."
	}
	if key.Type != "service_account" {
		return `This JSON is not a service-account key ("type" is not "service_account"): an OAuth client or user credential will not do.`
	}
	if a, err := mail.ParseAddress(key.ClientEmail); err != nil || a.Address != key.ClientEmail {
		return `The key has no valid "client_email": download it again.`
	}
	if b, _ := pem.Decode([]byte(key.PrivateKey)); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
		return `The key has no PEM "private_key": download it again.`
	}
	return ""
}
