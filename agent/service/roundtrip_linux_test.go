package service

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdRoundTrip installs, queries and uninstalls the real service
// through systemd. It needs root and a running systemd, so it skips in
// containers and CI; it never touches a service that is already there.
func TestSystemdRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not running")
	}
	if state, err := ServiceState(); err != nil || state != StateNotInstalled {
		t.Skipf("the service is already here (%s, %v); not touching it", state, err)
	}
	exe, err := currentExecutable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(exe, "/home/") || strings.HasPrefix(exe, "/root/") {
		t.Skip("the test binary is in a home directory, which the unit cannot use")
	}
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "shadowmap-agent")
	configPath := filepath.Join(dir, "agent.yaml")
	var stdout, stderr bytes.Buffer
	cmd := Command(&stdout, &stderr, stateDir)
	t.Cleanup(func() { cmd.Run([]string{"uninstall"}) })

	if err := cmd.Run([]string{"install", "--config", configPath}); err != nil {
		t.Fatalf("install: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	written, err := os.ReadFile("/etc/systemd/system/" + Name + ".service")
	if err != nil {
		t.Fatal(err)
	}
	want, err := SystemdUnit(Definition{Executable: exe, ConfigPath: configPath, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != want {
		t.Errorf("kardianos wrote a different unit:\n%s\nwant\n%s", written, want)
	}
	if state, err := ServiceState(); err != nil || state != StateStopped {
		t.Errorf("after install: %s, %v; want %s", state, err, StateStopped)
	}
	if err := cmd.Run([]string{"uninstall", "--purge", "--config", configPath}); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if state, err := ServiceState(); err != nil || state != StateNotInstalled {
		t.Errorf("after uninstall: %s, %v; want %s", state, err, StateNotInstalled)
	}
	if _, err := os.Stat(stateDir); err == nil {
		t.Error("--purge left the state directory")
	}
}
