package service

import (
	"errors"
	"fmt"
	"sort"
	"strings"

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
