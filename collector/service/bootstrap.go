package service

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/collector/config"
)

// Names of the credentials a bare `shadowmap serve` generates for itself.
const (
	bootstrapName       = "bootstrap"
	bootstrapEnrollFile = "enroll-secret"
	bootstrapAdminFile  = "admin-token"
)

// bootstrapSecrets makes `shadowmap serve` with no configuration at all a
// working collector: when neither an enroll secret nor an admin token is
// configured, it generates one of each on first start into the data
// directory (mode 0600) and reuses them afterwards. It returns the files it
// used; the secrets themselves are never logged.
func bootstrapSecrets(cfg *config.Config) ([]string, error) {
	if len(cfg.EnrollSecrets) > 0 || len(cfg.AdminTokens) > 0 {
		return nil, nil
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = filepath.Dir(cfg.Database)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bootstrap secrets: %w", err)
	}
	enrollPath := filepath.Join(dir, bootstrapEnrollFile)
	adminPath := filepath.Join(dir, bootstrapAdminFile)
	enroll, err := readOrCreateSecret(enrollPath)
	if err != nil {
		return nil, err
	}
	admin, err := readOrCreateSecret(adminPath)
	if err != nil {
		return nil, err
	}
	cfg.EnrollSecrets = []config.EnrollSecret{{Name: bootstrapName, Secret: config.Secret(enroll), SecretFile: enrollPath}}
	cfg.AdminTokens = []config.AdminToken{{Name: bootstrapName, Token: config.Secret(admin), TokenFile: adminPath}}
	// The "no enroll secret / no admin token" warnings no longer hold.
	cfg.Warnings = slices.DeleteFunc(slices.Clone(cfg.Warnings), func(w string) bool {
		return strings.HasPrefix(w, "no active enroll secret") || strings.HasPrefix(w, "no active admin token")
	})
	return []string{enrollPath, adminPath}, nil
}

func readOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 16 {
			return "", fmt.Errorf("bootstrap secret %s is shorter than 16 characters", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("bootstrap secrets: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("bootstrap secrets: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("bootstrap secrets: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("bootstrap secrets: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("bootstrap secrets: %w", err)
	}
	return s, nil
}
