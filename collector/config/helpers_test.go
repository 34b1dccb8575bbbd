package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name with mode and returns the path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeKeyPair writes a self-signed certificate and its key, valid from
// notBefore to notAfter, as PEM files with mode 0600.
func writeKeyPair(t *testing.T, dir, prefix string, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "shadowmap.test"},
		DNSNames:     []string{"localhost"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, prefix+"-cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o600)
	keyFile = writeFile(t, dir, prefix+"-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})), 0o600)
	return certFile, keyFile
}

// validPair writes a key pair valid now.
func validPair(t *testing.T, dir, prefix string) (certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	return writeKeyPair(t, dir, prefix, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// mustLoad loads or fails the test.
func mustLoad(t *testing.T, path string, env, args []string) Config {
	t.Helper()
	cfg, err := Load(path, env, args)
	if err != nil {
		t.Fatalf("Load(%q, %q, %q): %v", path, env, args, err)
	}
	return cfg
}

// hasWarning reports whether a warning contains sub.
func hasWarning(cfg Config, sub string) bool {
	for _, w := range cfg.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// Secrets used in tests: long enough to be valid, distinct enough to find.
const (
	secretA = "secret-aaaaaaaaaaaaaaaaaaaaaaaa-A"
	secretB = "secret-bbbbbbbbbbbbbbbbbbbbbbbb-B"
	secretC = "secret-cccccccccccccccccccccccc-C"
	tokenA  = "token-aaaaaaaaaaaaaaaaaaaaaaaaa-A"
	tokenB  = "token-bbbbbbbbbbbbbbbbbbbbbbbbb-B"
)
