package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Importer credentials set from the web view. The value of each lives in
// a file of its own, mode 0600 in a 0700 directory under the data
// directory; the store keeps only which key it replaces, the file, who set
// it and when. A database copy or backup therefore holds no IdP or mail
// secret, and the value is never shown back.

// Keys of the credentials the web view can replace: the configuration key
// whose value the override takes the place of.
const (
	CredentialOktaToken   = "sources.okta.token"
	CredentialEntraSecret = "sources.entra.client_secret"
	// CredentialGoogleKey replaces the file the service account's JSON
	// key is read from.
	CredentialGoogleKey = "sources.google.credentials_file"
)

// MailboxCredential is the key of a mailbox's password (or its OAuth
// token, for xoauth2), by the mailbox's configured name.
func MailboxCredential(name string) string {
	return "sources.mail.mailboxes." + name + ".password"
}

// MaxCredentialBytes caps a credential's value, written or read: a
// service-account key is about 2.5 KiB, tokens and passwords far less.
const MaxCredentialBytes = 64 << 10

// CredentialOverride is a credential set from the web view in place of
// the configuration file's.
type CredentialOverride struct {
	// Key is one of the Credential* keys or a MailboxCredential.
	Key string
	// File holds the value (0600). Never the value itself.
	File  string
	SetBy string
	SetAt time.Time
}

// CredentialStore keeps which credentials the web view replaced.
type CredentialStore interface {
	// CredentialOverrides returns every override, sorted by key.
	CredentialOverrides(ctx context.Context) ([]CredentialOverride, error)
	// SetCredentialOverride adds or replaces the override of c.Key; an
	// empty key or file is refused, a zero SetAt is set to now.
	SetCredentialOverride(ctx context.Context, c CredentialOverride) error
	// DeleteCredentialOverride removes the override of key (ErrNotFound
	// when there is none).
	DeleteCredentialOverride(ctx context.Context, key string) error
}

// credentialFileName is the file a key's value is written to: the key
// itself, which is made of letters, digits, '.', '-' and '_' only (mailbox
// names are restricted to those), so it never leaves the directory.
func credentialFileName(key string) (string, error) {
	if key == "" || len(key) > 200 || strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" ||
		strings.Trim(key, ".") == "" {
		return "", fmt.Errorf("credential key %q: want letters, digits, '.', '-', '_'", key)
	}
	return key, nil
}

// WriteCredentialFile writes value for key into dir atomically (a
// temporary file renamed over the old one), mode 0600, creating dir with
// mode 0700. It returns the file's path. The value is never in an error.
func WriteCredentialFile(dir, key string, value []byte) (string, error) {
	name, err := credentialFileName(key)
	if err != nil {
		return "", err
	}
	if len(value) == 0 || len(value) > MaxCredentialBytes {
		return "", fmt.Errorf("credential %s: %d bytes, want 1 to %d", key, len(value), MaxCredentialBytes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("credential directory: %w", err)
	}
	// MkdirAll keeps the mode of a directory that exists already.
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("credential directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*") // created 0600
	if err != nil {
		return "", fmt.Errorf("credential %s: %w", key, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return "", fmt.Errorf("credential %s: %w", key, err)
	}
	if _, err := tmp.Write(value); err != nil {
		return "", fmt.Errorf("credential %s: write: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("credential %s: sync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("credential %s: %w", key, err)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("credential %s: %w", key, err)
	}
	done = true
	return path, nil
}

// ReadCredentialFile reads a credential file of at most
// MaxCredentialBytes.
func ReadCredentialFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCredentialBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxCredentialBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, MaxCredentialBytes)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("read %s: empty", path)
	}
	return b, nil
}

// RemoveCredentialFile deletes a credential file; one already gone is no
// error.
func RemoveCredentialFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
