package pkgcmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/testenv"
)

// buildFakeAgents cross-builds testdata/fakeagent under the names `make
// agents` gives the real agent.
func buildFakeAgents(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/fakeagent")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"darwin/amd64", "darwin/arm64", "windows/amd64", "linux/amd64", "linux/arm64"} {
		goos, arch, _ := strings.Cut(target, "/")
		name := "shadowmap-agent-" + goos + "-" + arch
		if goos == "windows" {
			name += ".exe"
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, name), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build fake agent %s: %v\n%s", target, err, out)
		}
	}
	return dir
}

func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"wixl", "msibuild", "bsdtar", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "Packaging", tool+" is not installed")
		}
	}
}

// TestBuildCommand builds every package the way `make packages` does, from
// a relative output directory, and checks the list and SHA256SUMS.
func TestBuildCommand(t *testing.T) {
	needTools(t)
	agents := buildFakeAgents(t)
	t.Chdir(t.TempDir())
	var stdout bytes.Buffer
	cmd := BuildCommand(context.Background(), &stdout, "dev")
	if err := cmd.Run([]string{"--agents", agents, "--out", "dist", "--version", "v1.4.2-3-gabc1234", "--source-date-epoch", "1795000000"}); err != nil {
		t.Fatalf("build: %v", err)
	}
	want := []string{
		"SHA256SUMS",
		"intune-detect.ps1",
		"shadowmap-agent-1.4.2-1.git3.abc1234.aarch64.rpm",
		"shadowmap-agent-1.4.2-1.git3.abc1234.x86_64.rpm",
		"shadowmap-agent-1.4.2+git3.abc1234.pkg",
		"shadowmap-agent-1.4.2-x64.msi",
		"shadowmap-agent_1.4.2+git3.abc1234_amd64.deb",
		"shadowmap-agent_1.4.2+git3.abc1234_arm64.deb",
	}
	entries, err := os.ReadDir("dist")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dist holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(stdout.String(), "\n"); n != len(want)-1 {
		t.Errorf("build printed %d paths, want %d:\n%s", n, len(want)-1, stdout.String())
	}
	check := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	check.Dir = "dist"
	if out, err := check.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != len(want)-1 {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
}

// TestChecksumsAcrossBuilds: a build of one format keeps the sums of the
// others that are still in the directory, and forgets deleted files.
func TestChecksumsAcrossBuilds(t *testing.T) {
	needTools(t)
	agents := buildFakeAgents(t)
	out := t.TempDir()
	build := func(formats string) {
		t.Helper()
		err := BuildCommand(context.Background(), &bytes.Buffer{}, "v1.0.0").Run([]string{"--agents", agents, "--out", out, "--formats", formats})
		if err != nil {
			t.Fatalf("build %s: %v", formats, err)
		}
	}
	build("deb")
	build("pkg")
	if err := os.Remove(filepath.Join(out, "shadowmap-agent_1.0.0_arm64.deb")); err != nil {
		t.Fatal(err)
	}
	build("rpm")
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		_, name, _ := strings.Cut(line, "  ")
		names = append(names, name)
	}
	want := []string{
		"shadowmap-agent-1.0.0-1.aarch64.rpm", "shadowmap-agent-1.0.0-1.x86_64.rpm",
		"shadowmap-agent-1.0.0.pkg", "shadowmap-agent_1.0.0_amd64.deb",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("SHA256SUMS lists\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	check := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, b)
	}
}

func TestBuildCommandErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no agents", []string{"--agents", empty, "--out", t.TempDir(), "--formats", "deb"}, "run make agents first"},
		{"unknown format", []string{"--formats", "deb,dmg"}, `unknown format "dmg"`},
		{"bad version", []string{"--version", "release-1"}, "want vMAJOR.MINOR.PATCH"},
		{"half a signing key", []string{"--sign-cert", "c.pem"}, "--sign-cert and --sign-key go together"},
		{"stray argument", []string{"deb"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := BuildCommand(context.Background(), &bytes.Buffer{}, "v1.0.0").Run(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build %q = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestMobileConfigCommand(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("enroll-<&>-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "shadowmap.mobileconfig")
	var stdout bytes.Buffer
	err := MobileConfigCommand(&stdout).Run([]string{"--collector", "https://shadowmap.acme.example",
		"--enroll-secret-file", secretFile, "--owner-email", "$EMAIL", "--org", "Acme", "--out", out})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("profile mode %v, want 0600: it holds the enroll secret", info.Mode().Perm())
	}
	data, _ := os.ReadFile(out)
	for _, want := range []string{"<string>enroll-&lt;&amp;&gt;-s3cret</string>", "<string>$EMAIL</string>", "https://shadowmap.acme.example"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("profile lacks %q", want)
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("--out also wrote to stdout: %q", stdout.String())
	}

	emptySecret := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptySecret, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no secret file", []string{"--collector", "https://x.example"}, "--enroll-secret-file is required"},
		{"empty secret", []string{"--collector", "https://x.example", "--enroll-secret-file", emptySecret}, "the file is empty"},
		{"missing secret file", []string{"--collector", "https://x.example", "--enroll-secret-file", filepath.Join(dir, "nope")}, "no such file"},
		{"plain http collector", []string{"--collector", "http://shadowmap.acme.example", "--enroll-secret-file", secretFile}, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := MobileConfigCommand(&bytes.Buffer{}).Run(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("mobileconfig %q = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestSignedMacBinary takes the path of an admin who signs the universal
// binary before packaging: `universal`, then `build --macos-binary`, whose
// package must carry that binary byte for byte.
func TestSignedMacBinary(t *testing.T) {
	needTools(t)
	agents := buildFakeAgents(t)
	dir := t.TempDir()
	universal := filepath.Join(dir, "shadowmap-agent")
	err := UniversalCommand().Run([]string{filepath.Join(agents, "shadowmap-agent-darwin-amd64"), filepath.Join(agents, "shadowmap-agent-darwin-arm64"), universal})
	if err != nil {
		t.Fatal(err)
	}
	// Stand-in for codesign: any change to the binary must reach the
	// package as it is.
	f, err := os.OpenFile(universal, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("signature")
	f.Close()
	want, _ := os.ReadFile(universal)

	out := filepath.Join(dir, "dist")
	var stdout bytes.Buffer
	err = BuildCommand(context.Background(), &stdout, "v1.0.0").Run([]string{"--formats", "pkg", "--agents", filepath.Join(dir, "none"), "--macos-binary", universal, "--out", out})
	if err != nil {
		t.Fatalf("build --macos-binary: %v", err)
	}
	pkg := strings.TrimSpace(stdout.String())
	x := t.TempDir()
	for _, args := range [][]string{{"-xf", pkg, "-C", x}, {"-xf", filepath.Join(x, "shadowmap-agent.pkg", "Payload"), "-C", x}} {
		if out, err := exec.Command("bsdtar", args...).CombinedOutput(); err != nil {
			t.Fatalf("bsdtar %q: %v\n%s", args, err, out)
		}
	}
	got, err := os.ReadFile(filepath.Join(x, "usr", "local", "bin", "shadowmap-agent"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the packaged agent is not the --macos-binary given")
	}
}
