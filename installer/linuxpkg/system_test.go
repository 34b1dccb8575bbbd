package linuxpkg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/installer"
)

// TestDpkgInstall installs the .deb on this machine with dpkg, upgrades,
// removes and purges it. It changes the system, so it runs only where
// SHADOWMAP_SYSTEM_INSTALL=1 (CI, as root; a throwaway container), and it
// refuses to touch an agent that was there before.
//
// Where systemd runs, postinst really starts the service: status must then
// show the empty configuration's problem. Where it does not (a container),
// the unit is only enabled and status says the agent is not running.
func TestDpkgInstall(t *testing.T) {
	if os.Getenv("SHADOWMAP_SYSTEM_INSTALL") != "1" {
		t.Skip("installs a package on this machine: set SHADOWMAP_SYSTEM_INSTALL=1 (as root) to run it")
	}
	if os.Geteuid() != 0 {
		t.Fatal("SHADOWMAP_SYSTEM_INSTALL=1 needs root: dpkg -i")
	}
	needTool(t, "dpkg")
	needTool(t, "pgrep")
	def := installer.LinuxDefinition()
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "shadowmap-agent").Output(); err == nil && !strings.Contains(string(out), "not-installed") {
		t.Fatalf("shadowmap-agent is already on this machine (%s); not touching it", out)
	}
	for _, p := range []string{def.StateDir, filepath.Dir(def.ConfigPath)} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s already exists; purge would delete it", p)
		}
	}

	bin := buildAgent(t, hostArch())
	out := t.TempDir()
	debs := map[string]string{}
	for _, v := range []string{"v1.2.3", "v1.2.4"} {
		p, err := Build(context.Background(), installer.Input{Version: mustVersion(t, v), Arch: hostArch(), Binary: bin, OutDir: out}, "deb")
		if err != nil {
			t.Fatal(err)
		}
		debs[v] = p
	}
	t.Cleanup(func() {
		if err := exec.Command("dpkg", "-P", "shadowmap-agent").Run(); err != nil {
			t.Logf("cleanup: dpkg -P: %v", err)
		}
	})

	systemd := isDir("/run/systemd/system")
	_, systemctlErr := exec.LookPath("systemctl")
	wants := "/etc/systemd/system/multi-user.target.wants/shadowmap-agent.service"
	conffile := def.ConfigPath
	spoolFile := filepath.Join(def.StateDir, "spool", "kept-by-test")

	dpkg(t, "-i", debs["v1.2.3"])
	checkMode(t, installer.LinuxExecutable, 0o755)
	checkMode(t, UnitPath, 0o644)
	checkMode(t, conffile, 0o600)
	checkMode(t, def.StateDir, 0o700|os.ModeDir)
	if systemctlErr == nil && !exists(wants) {
		t.Errorf("postinst did not enable the unit: %s is missing", wants)
	}
	checkStatus(t, systemd)

	// An upgrade keeps the administrator's edits and the spool.
	const edit = "\n# edited by TestDpkgInstall\n"
	appendFile(t, conffile, edit)
	writeFile(t, spoolFile, "queued")
	for _, v := range []string{"v1.2.3", "v1.2.4"} {
		dpkg(t, "-i", debs[v])
		if b, err := os.ReadFile(conffile); err != nil || !strings.HasSuffix(string(b), edit) {
			t.Errorf("after dpkg -i %s: the edited conffile was replaced (err %v)", v, err)
		}
		if !exists(spoolFile) {
			t.Errorf("after dpkg -i %s: the spool is gone", v)
		}
		checkMode(t, conffile, 0o600)
	}
	if v := dpkgVersion(t); v != "1.2.4" {
		t.Errorf("installed version %q after the upgrade, want 1.2.4", v)
	}

	// Removal: program and unit go, configuration and spool stay.
	dpkg(t, "-r", "shadowmap-agent")
	for _, p := range []string{installer.LinuxExecutable, UnitPath, wants} {
		if exists(p) {
			t.Errorf("after dpkg -r: %s is left", p)
		}
	}
	for _, p := range []string{conffile, spoolFile} {
		if !exists(p) {
			t.Errorf("after dpkg -r: %s is gone", p)
		}
	}
	noAgentProcess(t)

	// Purge: nothing of the agent is left.
	dpkg(t, "-P", "shadowmap-agent")
	for _, p := range []string{conffile, filepath.Dir(conffile), def.StateDir} {
		if exists(p) {
			t.Errorf("after dpkg -P: %s is left", p)
		}
	}
	noAgentProcess(t)
}

func dpkg(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpkg", args...)
	// No terminal to ask about conffiles on: dpkg must not need to.
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg %q: %v\n%s", args, err, out)
	}
	t.Logf("dpkg %q:\n%s", args, out)
}

func dpkgVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "shadowmap-agent").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	return string(out)
}

// checkStatus runs the installed agent's status command, which must end
// and say something useful: the configuration problem of a running agent
// with the template's empty settings, or that the agent is not running.
func checkStatus(t *testing.T, systemd bool) {
	t.Helper()
	var out string
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		b, err := exec.CommandContext(ctx, installer.LinuxExecutable, "status").CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		out = string(b)
		if timedOut {
			t.Fatalf("shadowmap-agent status did not finish:\n%s", out)
		}
		if !strings.HasPrefix(out, "service ") {
			t.Fatalf("shadowmap-agent status (%v) does not start with the service state:\n%s", err, out)
		}
		if !systemd {
			if err == nil || !strings.Contains(out, "is the agent running?") {
				t.Errorf("shadowmap-agent status (%v) without systemd should say the agent is not running:\n%s", err, out)
			}
			return
		}
		// The service was just started: give it a moment to write its
		// first status.
		if strings.Contains(out, "settings need fixing") && strings.Contains(strings.ToLower(out), "collector") {
			t.Logf("shadowmap-agent status:\n%s", out)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("shadowmap-agent status never showed the missing collector settings:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// noAgentProcess fails when a process of the installed agent is left. The
// pattern is the installed path, not just the name: other packages' tests
// may be running agents of their own.
func noAgentProcess(t *testing.T) {
	t.Helper()
	out, err := exec.Command("pgrep", "-a", "-f", "^"+installer.LinuxExecutable).Output()
	if err == nil {
		t.Errorf("agent processes are left:\n%s", out)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 0 || st.Gid != 0) {
		t.Errorf("%s is owned by %d:%d, want root", path, st.Uid, st.Gid)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
