// Package testenv holds what the integration tests share about the machine
// they run on: whether an outside program they drive (Dovecot, Postfix,
// Chromium) can run here, and a free loopback port for a server they start.
//
// A missing program skips its tests on a developer's machine; CI sets
// SHADOWMAP_REQUIRE_<NAME>=1, which turns the skip into a failure so a
// broken install never passes as green.
package testenv

import (
	"net"
	"os"
	"os/user"
	"strings"
	"testing"
)

// Missing ends a test whose program cannot run here, giving why: a skip, or
// a failure when SHADOWMAP_REQUIRE_<NAME>=1 (NAME is name in upper case).
// It does nothing when why is empty.
func Missing(t testing.TB, name, why string) {
	t.Helper()
	if why == "" {
		return
	}
	env := "SHADOWMAP_REQUIRE_" + strings.ToUpper(name)
	if os.Getenv(env) == "1" {
		t.Fatalf("%s is required (%s=1): %s", name, env, why)
	}
	t.Skipf("skipping: %s cannot run here: %s", name, why)
}

// NotRoot is the reason to give Missing when a program must be started as
// root and the test is not, or "" when it is.
func NotRoot(what string) string {
	if os.Geteuid() == 0 {
		return ""
	}
	return what + ": the test must run as root"
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a server that picks its port from its configuration file rather than
// taking a listener.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Daemon describes a server program from a Debian package that a test
// starts as root and that drops privileges to a user the package creates.
type Daemon struct {
	Name    string // as in SHADOWMAP_REQUIRE_<NAME>
	Binary  string // absolute path
	Package string // the Debian package that installs Binary and User
	User    string
	// AsRoot says why the daemon must be started as root.
	AsRoot string
}

// NeedDaemon ends the test, as Missing does, when d cannot run here.
func NeedDaemon(t testing.TB, d Daemon) {
	t.Helper()
	Missing(t, d.Name, d.missing())
}

func (d Daemon) missing() string {
	if _, err := os.Stat(d.Binary); err != nil {
		return d.Binary + " is not installed (apt-get install " + d.Package + ")"
	}
	if why := NotRoot(d.AsRoot); why != "" {
		return why
	}
	if _, err := user.Lookup(d.User); err != nil {
		return "the " + d.User + " user is missing (the " + d.Package + " package creates it)"
	}
	return ""
}
