package linuxpkg

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/internal/golden"
)

func TestFileName(t *testing.T) {
	tests := []struct {
		version, arch, format, want string
	}{
		{"v1.2.3", "amd64", "deb", "shadowmap-agent_1.2.3_amd64.deb"},
		{"v1.2.3", "arm64", "deb", "shadowmap-agent_1.2.3_arm64.deb"},
		{"v1.2.3-4-gabc1234-dirty", "amd64", "deb", "shadowmap-agent_1.2.3+git4.abc1234.dirty_amd64.deb"},
		{"v1.2.3", "amd64", "rpm", "shadowmap-agent-1.2.3-1.x86_64.rpm"},
		{"v1.2.3", "arm64", "rpm", "shadowmap-agent-1.2.3-1.aarch64.rpm"},
		{"v1.2.3-4-gabc1234", "arm64", "rpm", "shadowmap-agent-1.2.3-1.git4.abc1234.aarch64.rpm"},
		{"abc1234", "amd64", "deb", "shadowmap-agent_0.0.0+git0.abc1234_amd64.deb"},
	}
	for _, tt := range tests {
		got, err := FileName(mustVersion(t, tt.version), tt.arch, tt.format)
		if err != nil {
			t.Errorf("FileName(%s, %s, %s): %v", tt.version, tt.arch, tt.format, err)
			continue
		}
		if got != tt.want {
			t.Errorf("FileName(%s, %s, %s) = %s, want %s", tt.version, tt.arch, tt.format, got, tt.want)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	static := fakeELF(t, elf.EM_X86_64, false)
	notELF := filepath.Join(t.TempDir(), "agent.sh")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		format  string
		in      installer.Input
		wantErr string
	}{
		{"unknown format", "apk", installer.Input{Arch: "amd64", Binary: static}, `format "apk"`},
		{"unknown arch", "deb", installer.Input{Arch: "386", Binary: static}, `architecture "386"`},
		{"missing binary", "deb", installer.Input{Arch: "amd64", Binary: filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"not ELF", "rpm", installer.Input{Arch: "amd64", Binary: notELF}, "agent binary"},
		{"wrong arch", "deb", installer.Input{Arch: "arm64", Binary: static}, "not arm64"},
		{"dynamic", "rpm", installer.Input{Arch: "amd64", Binary: fakeELF(t, elf.EM_X86_64, true)}, "CGO_ENABLED=0"},
		{"no output dir", "deb", installer.Input{Arch: "amd64", Binary: static}, "no output directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Version = mustVersion(t, "v1.0.0")
			if tt.name != "no output dir" {
				in.OutDir = t.TempDir()
			}
			p, err := Build(context.Background(), in, tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build = %q, %v; want an error with %q", p, err, tt.wantErr)
			}
			if in.OutDir != "" {
				if left, _ := os.ReadDir(in.OutDir); len(left) != 0 {
					t.Errorf("a failed build left %v", left)
				}
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := installer.Input{Arch: "amd64", Binary: static, OutDir: t.TempDir()}
	if _, err := Build(ctx, in, "deb"); err == nil {
		t.Error("Build with a cancelled context succeeded")
	}
}

// Two builds of the same input are the same bytes; the time stamp is the
// only thing from outside the input that gets in.
func TestBuildIsReproducible(t *testing.T) {
	bin := fakeELF(t, hostMachine(hostArch()), false)
	build := func(format string, mtime time.Time) []byte {
		t.Helper()
		in := installer.Input{Version: mustVersion(t, "v1.2.3-4-gabc1234"), Arch: hostArch(), Binary: bin, OutDir: t.TempDir()}
		p, err := BuildWith(context.Background(), in, format, Options{ModTime: mtime})
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(in.OutDir); len(left) != 1 {
			t.Errorf("output directory holds %v, want the package alone", left)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, format := range []string{"deb", "rpm"} {
		a, b := build(format, time.Time{}), build(format, DefaultModTime())
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ", format)
		}
		if bytes.Equal(a, build(format, other)) {
			t.Errorf("%s: ModTime changed nothing", format)
		}
	}
}

// The packaged unit is the agent's own unit with a header that sends local
// changes to a drop-in, since the package replaces the file on upgrade.
func TestPackagedUnit(t *testing.T) {
	def := installer.LinuxDefinition()
	packaged, err := service.PackagedSystemdUnit(def)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "shadowmap-agent.service.golden"), packaged)
	plain, err := service.SystemdUnit(def)
	if err != nil {
		t.Fatal(err)
	}
	body := func(unit string) string { return unit[strings.Index(unit, "[Unit]"):] }
	if body(packaged) != body(plain) {
		t.Error("the packaged unit differs from `service install`'s beyond its header")
	}
	if !strings.Contains(packaged, "systemctl edit shadowmap-agent") {
		t.Error("the packaged unit does not say how to override it")
	}
}

// packages builds the real agent and both packages from it once.
func packages(t *testing.T) (bin string, pkgs map[string]string) {
	t.Helper()
	bin = buildAgent(t, "amd64")
	out := t.TempDir()
	pkgs = map[string]string{}
	for _, format := range []string{"deb", "rpm"} {
		in := installer.Input{Version: mustVersion(t, "v1.2.3-4-gabc1234"), Arch: "amd64", Binary: bin, OutDir: out}
		p, err := Build(context.Background(), in, format)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := FileName(in.Version, in.Arch, format)
		if filepath.Base(p) != want || filepath.Dir(p) != out {
			t.Errorf("Build wrote %s, want %s in %s", p, want, out)
		}
		pkgs[format] = p
	}
	return bin, pkgs
}

func TestPackages(t *testing.T) {
	needTool(t, "dpkg-deb")
	needTool(t, "rpm")
	bin, pkgs := packages(t)
	agent, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("deb", func(t *testing.T) { checkDeb(t, pkgs["deb"], agent) })
	t.Run("rpm", func(t *testing.T) { checkRPM(t, pkgs["rpm"], agent) })
	t.Run("rpm install into a root", func(t *testing.T) { checkRPMInstall(t, pkgs["rpm"], agent) })
}

// checkRPMInstall has rpm itself install and erase the package in a
// directory of the test's (its own database, no scripts: they would run
// chrooted where there is no shell), so the payload, modes and config
// handling are what rpm makes of them, not what a reader of the headers
// says.
func checkRPMInstall(t *testing.T, pkg string, agent []byte) {
	root := t.TempDir()
	rpmArgs := func(args ...string) []string {
		return append([]string{"--root", root, "--dbpath", "/var/lib/rpm"}, args...)
	}
	run(t, "rpm", rpmArgs("--initdb")...)
	run(t, "rpm", rpmArgs("-i", "--nodeps", "--noscripts", "--ignorearch", pkg)...)
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"usr/bin/shadowmap-agent", 0o755},
		{strings.TrimPrefix(UnitPath, "/"), 0o644},
		{"etc/shadowmap/agent.yaml", 0o600},
	} {
		info, err := os.Stat(filepath.Join(root, f.path))
		if err != nil {
			t.Errorf("rpm -i did not install %s: %v", f.path, err)
			continue
		}
		if info.Mode().Perm() != f.mode {
			t.Errorf("%s has mode %v, want %v", f.path, info.Mode().Perm(), f.mode)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(root, "usr/bin/shadowmap-agent")); !bytes.Equal(got, agent) {
		t.Error("the installed agent differs from the packaged one")
	}
	if out := run(t, "rpm", rpmArgs("-V", "shadowmap-agent")...); strings.TrimSpace(out) != "" {
		t.Errorf("rpm -V after install:\n%s", out)
	}
	// An edited config survives erasure as .rpmsave; everything else goes.
	conf := filepath.Join(root, "etc/shadowmap/agent.yaml")
	if err := os.WriteFile(conf, []byte("collector_url: https://shadowmap.acme.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "rpm", rpmArgs("-e", "--noscripts", "shadowmap-agent")...)
	for _, gone := range []string{"usr/bin/shadowmap-agent", strings.TrimPrefix(UnitPath, "/"), "etc/shadowmap/agent.yaml"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after rpm -e (%v)", gone, err)
		}
	}
	if _, err := os.Stat(conf + ".rpmsave"); err != nil {
		t.Errorf("the edited config was not kept as .rpmsave: %v", err)
	}
}

// fields parses "Key: value" lines (dpkg's control, rpm -qi), keeping
// the first line of each value.
func fields(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if line == "" || line[0] == ' ' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := m[k]; !seen {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func checkFields(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// shipped is what every package installs: path, mode, and content.
func shipped(t *testing.T, agent []byte, unitPath string) map[string]struct {
	mode    string
	content []byte
} {
	unit, err := service.PackagedSystemdUnit(installer.LinuxDefinition())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]struct {
		mode    string
		content []byte
	}{
		installer.LinuxExecutable:   {"-rwxr-xr-x", agent},
		unitPath:                    {"-rw-r--r--", []byte(unit)},
		"/etc/shadowmap/agent.yaml": {"-rw-------", []byte(installer.ConfigTemplate)},
	}
}

func checkDeb(t *testing.T, deb string, agent []byte) {
	control := run(t, "dpkg-deb", "-I", deb, "control")
	checkFields(t, fields(control), map[string]string{
		"Package":      "shadowmap-agent",
		"Version":      "1.2.3+git4.abc1234",
		"Architecture": "amd64",
		"Section":      "admin",
		"Priority":     "optional",
		"Maintainer":   Maintainer,
		"Homepage":     Homepage,
		"Description":  summary,
	})
	for _, f := range []string{"Depends:", "Pre-Depends:", "Recommends:"} {
		if strings.Contains(control, f) {
			t.Errorf("the agent is static, yet the control file has %s\n%s", f, control)
		}
	}
	if got := run(t, "dpkg-deb", "-I", deb, "conffiles"); got != "/etc/shadowmap/agent.yaml\n" {
		t.Errorf("conffiles = %q", got)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		want, _ := scripts.ReadFile("scripts/" + s + ".sh")
		if got := run(t, "dpkg-deb", "-I", deb, s); got != string(want) {
			t.Errorf("%s is not scripts/%s.sh", s, s)
		}
	}

	// dpkg-deb -c: "-rwxr-xr-x root/root 16614592 2026-01-01 00:00 ./usr/bin/shadowmap-agent"
	want := shipped(t, agent, UnitPath)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		mode, owner, date, path := f[0], f[1], f[3]+" "+f[4], strings.TrimPrefix(strings.TrimSuffix(f[5], "/"), ".")
		if owner != "root/root" {
			t.Errorf("%s is owned by %s", path, owner)
		}
		if date != "2026-01-01 00:00" {
			t.Errorf("%s is dated %s, want DefaultModTime", path, date)
		}
		if strings.HasPrefix(path, "/var") {
			t.Errorf("the package ships %s; postinst creates the state directory", path)
		}
		if mode[0] == 'd' {
			if mode != "drwxr-xr-x" {
				t.Errorf("directory %s has mode %s", path, mode)
			}
			continue
		}
		w, ok := want[path]
		if !ok {
			t.Errorf("unexpected file %s", line)
			continue
		}
		seen[path] = true
		if mode != w.mode {
			t.Errorf("%s has mode %s, want %s", path, mode, w.mode)
		}
	}
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	for path, w := range want {
		if !seen[path] {
			t.Errorf("%s is missing", path)
		}
		if got, err := os.ReadFile(filepath.Join(root, path)); err != nil || !bytes.Equal(got, w.content) {
			t.Errorf("%s does not hold what was packaged (err %v)", path, err)
		}
	}
	verifyUnit(t, root, UnitPath)
}

func checkRPM(t *testing.T, pkg string, agent []byte) {
	checkFields(t, fields(run(t, "rpm", "-qip", pkg)), map[string]string{
		"Name":         "shadowmap-agent",
		"Version":      "1.2.3",
		"Release":      "1.git4.abc1234",
		"Architecture": "x86_64",
		"License":      License,
		"URL":          Homepage,
		"Summary":      summary,
		"Packager":     Maintainer,
		"Build Host":   "localhost",
		"Build Date":   "Thu Jan  1 00:00:00 2026",
	})
	want := shipped(t, agent, UnitPath)
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	paths = append(paths, "/etc/shadowmap")
	sort.Strings(paths)
	if got, w := run(t, "rpm", "-qlp", pkg), strings.Join(paths, "\n")+"\n"; got != w {
		t.Errorf("rpm -qlp:\n%s\nwant\n%s", got, w)
	}
	if got := run(t, "rpm", "-qp", "--configfiles", pkg); got != "/etc/shadowmap/agent.yaml\n" {
		t.Errorf("rpm --configfiles = %q", got)
	}
	// c: %config, n: noreplace, so an upgrade keeps an edited file.
	const qf = `[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`
	for _, line := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--queryformat", qf, pkg)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("rpm --queryformat line %q", line)
		}
		if f[2] != "root:root" {
			t.Errorf("%s is owned by %s", f[0], f[2])
		}
		if w, ok := want[f[0]]; ok && f[1] != w.mode {
			t.Errorf("%s has mode %s, want %s", f[0], f[1], w.mode)
		}
		if flags := strings.Join(f[3:], ""); (f[0] == "/etc/shadowmap/agent.yaml") != (flags == "cn") {
			t.Errorf("%s has file flags %q", f[0], flags)
		}
	}
	for _, req := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qpR", pkg)), "\n") {
		if req != "" && !strings.HasPrefix(req, "rpmlib(") && req != "/bin/sh" {
			t.Errorf("the agent is static, yet the package requires %q", req)
		}
	}

	scriptlets := run(t, "rpm", "-qp", "--scripts", pkg)
	header := regexp.MustCompile(`(?m)^(\w+) scriptlet \(using /bin/sh\):\n`)
	got := map[string]string{}
	idx := header.FindAllStringSubmatchIndex(scriptlets, -1)
	for i, m := range idx {
		end := len(scriptlets)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		got[scriptlets[m[2]:m[3]]] = strings.TrimSpace(scriptlets[m[1]:end])
	}
	for name, file := range map[string]string{"postinstall": "postinst", "preuninstall": "prerm", "postuninstall": "postrm"} {
		want, _ := scripts.ReadFile("scripts/" + file + ".sh")
		if got[name] != strings.TrimSpace(string(want)) {
			t.Errorf("the %s scriptlet is not scripts/%s.sh:\n%s", name, file, got[name])
		}
	}
	if len(got) != 3 {
		t.Errorf("scriptlets %v, want postinstall, preuninstall, postuninstall", got)
	}

	// libarchive reads RPM payloads (rpm2cpio exits 1 on rpmpack's
	// archive-size field although the payload is whole).
	root := t.TempDir()
	run(t, "bsdtar", "-xf", pkg, "-C", root)
	for path, w := range want {
		if got, err := os.ReadFile(filepath.Join(root, path)); err != nil || !bytes.Equal(got, w.content) {
			t.Errorf("%s does not hold what was packaged (err %v)", path, err)
		}
	}
}

// verifyUnit runs systemd-analyze verify on the unit the package ships.
// verify insists that ExecStart exists, so the unit's executable is
// pointed at the extracted agent; the rest is the file as shipped.
func verifyUnit(t *testing.T, root, unitPath string) {
	t.Helper()
	analyze := needTool(t, "systemd-analyze")
	unit, err := os.ReadFile(filepath.Join(root, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(root, installer.LinuxExecutable)
	patched := strings.ReplaceAll(string(unit), installer.LinuxExecutable, exe)
	path := filepath.Join(t.TempDir(), service.Name+".service")
	if err := os.WriteFile(path, []byte(patched), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Keys newer than this systemd are reported and ignored (the unit
	// targets systemd 254 and later too); anything else said about the
	// file is a mistake.
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, path) || strings.Contains(line, "Unknown key 'RestartSteps'") || strings.Contains(line, "Unknown key 'RestartMaxDelaySec'") {
			continue
		}
		t.Errorf("systemd-analyze: %s", line)
	}
}

// Each format names arm64 its own way.
func TestArm64Packages(t *testing.T) {
	bin := fakeELF(t, elf.EM_AARCH64, false)
	in := installer.Input{Version: mustVersion(t, "v2.0.1"), Arch: "arm64", Binary: bin, OutDir: t.TempDir()}
	for _, tt := range []struct{ format, tool, query, want string }{
		{"deb", "dpkg-deb", "--field", "arm64"},
		{"rpm", "rpm", "--queryformat=%{ARCH}", "aarch64"},
	} {
		p, err := Build(context.Background(), in, tt.format)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if tt.format == "deb" {
			got = run(t, tt.tool, tt.query, p, "Architecture")
		} else {
			got = run(t, tt.tool, "-qp", tt.query, p)
		}
		if strings.TrimSpace(got) != tt.want {
			t.Errorf("%s architecture %q, want %q", filepath.Base(p), got, tt.want)
		}
	}
}
