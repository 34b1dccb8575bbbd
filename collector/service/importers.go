package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/sources/dnszone"
	"github.com/shadowmap/shadowmap/collector/sources/entra"
	"github.com/shadowmap/shadowmap/collector/sources/google"
	"github.com/shadowmap/shadowmap/collector/sources/mailbox"
	"github.com/shadowmap/shadowmap/collector/sources/okta"
)

// importerNames are the sources `shadowmap import` knows, whether or not
// they are configured.
var importerNames = []string{"google", "okta", "entra", "dnszone", "mail"}

// configuredImporters builds an importer for every source the
// configuration fills in, in a fixed order.
func configuredImporters(s config.Sources) ([]sources.Importer, error) {
	var out []sources.Importer
	for _, name := range importerNames {
		imp, err := importerFor(name, s)
		if errors.Is(err, errNotConfigured) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, imp)
	}
	return out, nil
}

var errNotConfigured = errors.New("not configured")

// importerFor builds the named importer from the configuration.
func importerFor(name string, s config.Sources) (sources.Importer, error) {
	switch name {
	case "okta":
		if !s.Okta.Enabled() {
			return nil, fmt.Errorf("okta: %w (set sources.okta.url and token_file)", errNotConfigured)
		}
		return okta.New(s.Okta, okta.Options{})
	case "dnszone":
		if !s.DNSZone.Enabled() {
			return nil, fmt.Errorf("dnszone: %w (set sources.dns_zone.domains)", errNotConfigured)
		}
		return dnszone.New(s.DNSZone, dnszone.Options{})
	case "entra":
		if !s.Entra.Enabled() {
			return nil, fmt.Errorf("entra: %w (set sources.entra.tenant_id, client_id and client_secret_file)", errNotConfigured)
		}
		return entra.New(s.Entra, entra.Options{})
	case "mail":
		if !s.Mail.Enabled() {
			return nil, fmt.Errorf("mail: %w (add sources.mail.mailboxes)", errNotConfigured)
		}
		return mailbox.New(s.Mail, mailbox.Options{})
	case "google":
		if !s.Google.Enabled() {
			return nil, fmt.Errorf("google: %w (set sources.google.credentials_file and admin_email)", errNotConfigured)
		}
		return google.New(s.Google, google.Options{})
	}
	known := append([]string(nil), importerNames...)
	sort.Strings(known)
	return nil, fmt.Errorf("unknown source %q (one of %s)", name, strings.Join(known, ", "))
}

// fileImporterFor builds the named source's importer of exported files.
func fileImporterFor(name string, paths []string) (sources.Importer, error) {
	switch name {
	case "entra":
		return entra.NewFileImporter(paths), nil
	case "google":
		return google.NewFileImporter(paths), nil
	}
	return nil, fmt.Errorf("%s: no file import for this source", name)
}

// withCredentialOverrides returns s with the credentials set in the web
// view in place of the configuration's: the override's file is read
// (size-capped) into the secret, or, for the Google key, becomes the file
// read. An override whose file cannot be read is logged (never its value)
// and the configuration's credential is kept; one for a mailbox no longer
// configured is ignored. s itself is not changed.
func withCredentialOverrides(s config.Sources, overrides []collector.CredentialOverride, log *slog.Logger) config.Sources {
	s.Mail.Mailboxes = slices.Clone(s.Mail.Mailboxes)
	secrets := map[string]*config.Secret{
		collector.CredentialOktaToken:   &s.Okta.Token,
		collector.CredentialEntraSecret: &s.Entra.ClientSecret,
	}
	for i := range s.Mail.Mailboxes {
		m := &s.Mail.Mailboxes[i]
		secrets[collector.MailboxCredential(m.Name)] = &m.Password
	}
	for _, o := range overrides {
		value, err := collector.ReadCredentialFile(o.File)
		if err != nil {
			log.Warn("credential set in the web view cannot be read; using the configuration's", "key", o.Key, "err", err)
			continue
		}
		if o.Key == collector.CredentialGoogleKey {
			s.Google.CredentialsFile = o.File
			continue
		}
		if p, ok := secrets[o.Key]; ok {
			// Tokens and passwords pasted in a form or a file often end
			// with a newline that is not part of them.
			*p = config.Secret(strings.TrimSpace(string(value)))
		}
	}
	return s
}

// overriddenSources reads the credential overrides from store and applies
// them to s.
func overriddenSources(ctx context.Context, s config.Sources, store collector.CredentialStore, log *slog.Logger) (config.Sources, error) {
	overrides, err := store.CredentialOverrides(ctx)
	if err != nil {
		return s, fmt.Errorf("read credentials set in the web view: %w", err)
	}
	return withCredentialOverrides(s, overrides, log), nil
}

// importerBuilder builds the configured importers with the credentials
// set in the web view at the time of the call: the scheduler calls it at
// the start of each round.
func importerBuilder(s config.Sources, store collector.CredentialStore, log *slog.Logger) func(ctx context.Context) ([]sources.Importer, error) {
	return func(ctx context.Context) ([]sources.Importer, error) {
		src, err := overriddenSources(ctx, s, store, log)
		if err != nil {
			return nil, err
		}
		return configuredImporters(src)
	}
}

// credentialsDir is where the web view writes the credentials set there:
// credentials/ in the data directory (beside the database when no data
// directory is set).
func credentialsDir(cfg config.Config) string {
	dir := cfg.DataDir
	if dir == "" {
		dir = filepath.Dir(cfg.Database)
	}
	return filepath.Join(dir, "credentials")
}
