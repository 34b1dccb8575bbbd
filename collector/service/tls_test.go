package service

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/internal/testcert"
)

// TestServeTLS serves HTTPS from cert and key files and refuses plain
// HTTP on the same port.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testcert.Write(t, dir, "collector", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	cfg, err := config.Load("", []string{
		"SHADOWMAP_DATABASE=" + filepath.Join(dir, "s.db"),
		"SHADOWMAP_ENROLL_SECRET=" + enrollSecret,
		"SHADOWMAP_ADMIN_TOKEN=" + adminToken,
		"SHADOWMAP_TLS_CERT=" + certFile,
		"SHADOWMAP_TLS_KEY=" + keyFile,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS healthz: %d, TLS %+v", resp.StatusCode, resp.TLS)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the TLS port")
		}
	}
}

// TestBackupCommand copies a live database with `shadowmap backup`.
func TestBackupCommand(t *testing.T) {
	dir := t.TempDir()
	startCollector(t, writeConfig(t, dir, ""))
	db := filepath.Join(dir, "data", "shadowmap.db")
	dest := filepath.Join(dir, "backup.db")
	var out, errb bytes.Buffer
	cmd := BackupCommand(&out, &errb, nil)
	if err := cmd.Run([]string{"--database", db, dest}); err != nil {
		t.Fatalf("backup: %v (%s)", err, errb.String())
	}
	fi, err := os.Stat(dest)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if err := cmd.Run([]string{"--database", db, dest}); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
	if err := cmd.Run([]string{"--database", filepath.Join(dir, "none.db"), filepath.Join(dir, "b2.db")}); err == nil {
		t.Fatal("backup of a missing database succeeded")
	}
}
