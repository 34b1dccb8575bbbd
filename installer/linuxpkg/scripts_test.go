package linuxpkg

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var scriptNames = []string{"postinst", "prerm", "postrm"}

func TestScriptsParse(t *testing.T) {
	for _, name := range scriptNames {
		b, err := scripts.ReadFile("scripts/" + name + ".sh")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) {
			t.Errorf("%s does not start with #!/bin/sh", name)
		}
		// sh is dash on Debian: POSIX, no bashisms.
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = bytes.NewReader(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
	}
}

// fakeSystemctl logs each call. is-active answers $FAKE_ACTIVE (3,
// inactive, unless set) and the verbs in $FAKE_FAIL fail.
const fakeSystemctl = `#!/bin/sh
echo "$*" >>"$FAKE_SYSTEMCTL_LOG"
case "$1" in
is-active) exit "${FAKE_ACTIVE:-3}" ;;
esac
case " $FAKE_FAIL " in
*" $1 "*) exit 1 ;;
esac
exit 0
`

type scriptStep struct {
	script string
	args   []string
	// admin, when set, is what an admin does between two package
	// operations, instead of running a script.
	admin func(*testing.T, scriptEnv)
}

func step(script string, args ...string) scriptStep { return scriptStep{script: script, args: args} }

// scriptEnv is a temporary root the scripts run against.
type scriptEnv struct {
	root, bin, log string
	env            []string
}

const unit = "shadowmap-agent.service"

func newScriptEnv(t *testing.T, systemd, systemctl bool, env []string) scriptEnv {
	t.Helper()
	dir := t.TempDir()
	e := scriptEnv{root: filepath.Join(dir, "root"), bin: filepath.Join(dir, "bin"), log: filepath.Join(dir, "systemctl.log")}
	if err := os.MkdirAll(e.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// PATH holds only what the scripts may use, so a missing systemctl
	// really is missing.
	for _, tool := range []string{"mkdir", "chmod", "rm"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(e.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if systemctl {
		if err := os.WriteFile(filepath.Join(e.bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdirs(t, e.root, "etc/shadowmap", "usr/sbin")
	if systemd {
		mkdirs(t, e.root, "run/systemd/system")
	}
	writeFile(t, filepath.Join(e.root, "etc/shadowmap/agent.yaml"), "collector_url: https://c.example\n")
	e.env = append([]string{"PATH=" + e.bin, "SHADOWMAP_PKG_ROOT=" + e.root, "FAKE_SYSTEMCTL_LOG=" + e.log}, env...)
	return e
}

func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (e scriptEnv) run(t *testing.T, s scriptStep) {
	t.Helper()
	if s.admin != nil {
		s.admin(t, e)
		return
	}
	b, err := scripts.ReadFile("scripts/" + s.script + ".sh")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), s.script)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{path}, s.args...)...)
	cmd.Env = e.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q failed, which fails the package transaction: %v\n%s", s.script, s.args, err, out)
	}
}

func (e scriptEnv) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(e.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (e scriptEnv) exists(path string) bool {
	_, err := os.Lstat(filepath.Join(e.root, path))
	return err == nil
}

const (
	stateDir = "var/lib/shadowmap-agent"
	spool    = stateDir + "/spool/batch-1"
	marker   = "etc/shadowmap/.removed-by-package"
	config   = "etc/shadowmap/agent.yaml"
)

// Each case runs the scripts the way dpkg or rpm would for one
// transaction, then checks what reached systemctl and what is left on
// disk.
func TestScripts(t *testing.T) {
	var (
		install   = []string{"daemon-reload", "enable " + unit, "start " + unit}
		restart   = []string{"daemon-reload", "try-restart " + unit}
		stop      = []string{"stop " + unit, "is-active --quiet " + unit, "disable " + unit}
		reload    = []string{"daemon-reload"}
		installed = func(t *testing.T, e scriptEnv) { // the state of an installed agent
			writeFile(t, filepath.Join(e.root, spool), "queued")
		}
	)
	cat := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name      string
		systemd   bool // /run/systemd/system exists
		systemctl bool // systemctl is on PATH
		env       []string
		setup     func(*testing.T, scriptEnv)
		steps     []scriptStep
		calls     []string
		present   []string
		absent    []string
	}{
		// dpkg
		{name: "deb install", systemd: true, systemctl: true,
			steps: []scriptStep{step("postinst", "configure", "")}, calls: install,
			present: []string{stateDir, config}, absent: []string{marker}},
		{name: "deb install without systemd running", systemctl: true,
			steps: []scriptStep{step("postinst", "configure", "")}, calls: []string{"enable " + unit},
			present: []string{stateDir}},
		{name: "deb install without systemctl", systemd: true,
			steps:   []scriptStep{step("postinst", "configure", "")},
			present: []string{stateDir}},
		{name: "deb install where policy-rc.d forbids starting", systemd: true, systemctl: true,
			setup: func(t *testing.T, e scriptEnv) {
				writeFile(t, filepath.Join(e.root, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n")
			},
			steps: []scriptStep{step("postinst", "configure", "")}, calls: []string{"daemon-reload", "enable " + unit}},
		{name: "deb install when the service fails to start", systemd: true, systemctl: true, env: []string{"FAKE_FAIL=start enable"},
			steps: []scriptStep{step("postinst", "configure", "")}, calls: install, present: []string{stateDir}},
		{name: "deb upgrade", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "upgrade", "1.3.0"), step("postrm", "upgrade", "1.3.0"), step("postinst", "configure", "1.2.0")},
			calls: restart, present: []string{spool, config}},
		{name: "deb upgrade without systemd running", systemctl: true, setup: installed,
			steps:   []scriptStep{step("prerm", "upgrade", "1.3.0"), step("postinst", "configure", "1.2.0")},
			present: []string{spool}},
		{name: "deb failed upgrade rolled back", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("postinst", "abort-upgrade", "1.3.0")}, calls: restart, present: []string{spool}},
		{name: "deb remove", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "remove"), step("postrm", "remove")},
			calls: cat(stop, reload), present: []string{spool, config, marker}},
		{name: "deb remove of a service that will not stop", systemd: true, systemctl: true, env: []string{"FAKE_ACTIVE=0", "FAKE_FAIL=stop"}, setup: installed,
			steps: []scriptStep{step("prerm", "remove")},
			calls: []string{"stop " + unit, "is-active --quiet " + unit, "kill --signal=SIGKILL " + unit, "disable " + unit}},
		{name: "deb remove without systemd running", systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "remove"), step("postrm", "remove")},
			calls: []string{"disable " + unit}, present: []string{spool}},
		{name: "deb purge", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "remove"), step("postrm", "remove"), step("postrm", "purge")},
			calls: cat(stop, reload, reload), absent: []string{stateDir, "etc/shadowmap"}},
		{name: "deb purge without systemctl", setup: installed,
			steps:  []scriptStep{step("prerm", "remove"), step("postrm", "remove"), step("postrm", "purge")},
			absent: []string{stateDir, "etc/shadowmap"}},
		// dpkg passes the old version when a removed package comes back.
		{name: "deb reinstall after remove", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "remove"), step("postrm", "remove"), step("postinst", "configure", "1.2.0")},
			calls: cat(stop, reload, install), present: []string{spool}, absent: []string{marker}},
		// The admin clears the spool between remove and reinstall: the
		// agent must still come back enabled and started.
		{name: "deb reinstall after remove and a cleared state directory", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "remove"), step("postrm", "remove"), {admin: func(t *testing.T, e scriptEnv) {
				if err := os.RemoveAll(filepath.Join(e.root, stateDir)); err != nil {
					t.Fatal(err)
				}
			}}, step("postinst", "configure", "1.2.0")},
			calls: cat(stop, reload, install), present: []string{stateDir, config}, absent: []string{marker, spool}},
		{name: "deb unknown action", systemd: true, systemctl: true,
			steps: []scriptStep{step("postinst", "triggered", "x"), step("prerm", "failed-upgrade", "1.2.0"), step("postrm", "failed-upgrade", "1.2.0")}},
		// rpm: the argument is how many versions are installed after the
		// transaction. An upgrade runs the new %post, then the old %preun
		// and %postun.
		{name: "rpm install", systemd: true, systemctl: true,
			steps: []scriptStep{step("postinst", "1")}, calls: install, present: []string{stateDir}},
		{name: "rpm install without systemd running", systemctl: true,
			steps: []scriptStep{step("postinst", "1")}, calls: []string{"enable " + unit}, present: []string{stateDir}},
		{name: "rpm upgrade", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("postinst", "2"), step("prerm", "1"), step("postrm", "1")},
			calls: restart, present: []string{spool, config}},
		{name: "rpm erase", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "0"), step("postrm", "0")},
			calls: cat(stop, reload), present: []string{spool}},
		{name: "rpm erase and install again", systemd: true, systemctl: true, setup: installed,
			steps: []scriptStep{step("prerm", "0"), step("postrm", "0"), step("postinst", "1")},
			calls: cat(stop, reload, install), present: []string{spool}, absent: []string{marker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newScriptEnv(t, tt.systemd, tt.systemctl, tt.env)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			for _, s := range tt.steps {
				e.run(t, s)
			}
			if got := e.calls(t); strings.Join(got, "\n") != strings.Join(tt.calls, "\n") {
				t.Errorf("systemctl calls:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.calls, "\n  "))
			}
			for _, p := range tt.present {
				if !e.exists(p) {
					t.Errorf("%s is gone", p)
				}
			}
			for _, p := range tt.absent {
				if e.exists(p) {
					t.Errorf("%s is left", p)
				}
			}
		})
	}
}

// The state directory holds the names of apps a person uses: postinst
// makes it root-only, also when it already existed with a looser mode.
func TestPostinstStateDirMode(t *testing.T) {
	for _, args := range [][]string{{"configure", ""}, {"configure", "1.2.0"}, {"1"}, {"2"}} {
		e := newScriptEnv(t, false, false, nil)
		mkdirs(t, e.root, stateDir)
		if err := os.Chmod(filepath.Join(e.root, stateDir), 0o755); err != nil {
			t.Fatal(err)
		}
		e.run(t, step("postinst", args...))
		fi, err := os.Stat(filepath.Join(e.root, stateDir))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("postinst %q: state directory mode %v, want 0700", args, fi.Mode().Perm())
		}
	}
}
