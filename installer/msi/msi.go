// Package msi builds the agent's Windows Installer package on Linux: a
// per-machine .msi that installs shadowmap-agent.exe under Program Files,
// registers and starts the shadowmap-agent service, and writes the MSI
// properties COLLECTOR_URL, ENROLL_SECRET and OWNER_EMAIL to the agent's
// policy registry key, so one generic package serves every company.
//
// The package is compiled by wixl (msitools) from a .wxs this package
// writes. wixl 0.101 cannot express everything the package needs, so the
// database is then edited with msibuild (also msitools) using the SQL in
// fixups: component conditions, secure properties, a same-version major
// upgrade, a hidden custom action, the service's recovery actions, and
// the permissions that lock the data folder and the policy key to SYSTEM
// and Administrators. It is optionally Authenticode-signed with
// osslsigncode.
package msi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/shadowmap/shadowmap/installer"
)

// Signing is the Authenticode certificate the package is signed with.
type Signing struct {
	// CertFile is the PEM certificate chain, leaf first; KeyFile its PEM
	// private key (unencrypted: osslsigncode would prompt for a password).
	CertFile, KeyFile string
	// TimestampURL is an Authenticode timestamp server (osslsigncode -t),
	// so the signature outlives the certificate; empty means none.
	TimestampURL string
}

// Build writes in.OutDir/shadowmap-agent-<version>-x64.msi from the
// Windows amd64 agent in in.Binary, signed when sign is not nil, and
// returns its path.
func Build(ctx context.Context, in installer.Input, sign *Signing) (string, error) {
	path, err := build(ctx, in, sign)
	if err != nil {
		return "", fmt.Errorf("build msi: %w", err)
	}
	return path, nil
}

// FileName is the package's file name for version v.
func FileName(v installer.Version) string {
	return "shadowmap-agent-" + v.MSI() + "-x64.msi"
}

func build(ctx context.Context, in installer.Input, sign *Signing) (string, error) {
	if in.Arch != "amd64" {
		return "", fmt.Errorf("architecture %q: the Windows package is built for amd64 only", in.Arch)
	}
	if err := in.Version.CheckMSI(); err != nil {
		return "", fmt.Errorf("version %s: %w", in.Version, err)
	}
	if in.OutDir == "" {
		return "", errors.New("no output directory")
	}
	if err := checkBinary(in.Binary); err != nil {
		return "", err
	}
	if sign != nil && (sign.CertFile == "" || sign.KeyFile == "") {
		return "", errors.New("signing needs both a certificate and a key file")
	}
	tools := []string{"wixl", "msibuild"}
	if sign != nil {
		tools = append(tools, "osslsigncode")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is not installed (Debian: apt-get install wixl msitools osslsigncode): %w", tool, err)
		}
	}

	src, err := wxs(in.Version)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(in.OutDir, 0o755); err != nil {
		return "", err
	}
	// The tools run inside the staging directory, so every path handed
	// to them must not depend on the caller's working directory.
	outDir, err := filepath.Abs(in.OutDir)
	if err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp(outDir, ".msi-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)

	// wixl only takes File Source paths relative to its working directory,
	// which also keeps the build's temporary paths out of the .wxs.
	if err := copyFile(in.Binary, filepath.Join(stage, installer.WindowsExecutableName)); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(stage, configSource), []byte(windowsConfig()), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(stage, "agent.wxs"), src, 0o644); err != nil {
		return "", err
	}

	unsigned := filepath.Join(stage, "agent.msi")
	if err := runTool(ctx, stage, "wixl", "--arch", "x64", "--output", "agent.msi", "agent.wxs"); err != nil {
		return "", err
	}
	if err := applyFixups(ctx, stage, unsigned, in.Version); err != nil {
		return "", err
	}
	result := unsigned
	if sign != nil {
		result = filepath.Join(stage, "signed.msi")
		if err := signMSI(ctx, stage, sign, unsigned, result); err != nil {
			return "", err
		}
	}
	out := filepath.Join(outDir, FileName(in.Version))
	if err := os.Rename(result, out); err != nil {
		return "", err
	}
	return out, nil
}

func checkBinary(path string) error {
	if path == "" {
		return errors.New("no agent binary given")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("agent binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("agent binary %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("agent binary: %w", err)
	}
	defer f.Close()
	magic := make([]byte, 2)
	if _, err := f.Read(magic); err != nil || string(magic) != "MZ" {
		return fmt.Errorf("agent binary %s is not a Windows executable (build it with GOOS=windows)", path)
	}
	return nil
}

// windowsConfig is the config template with Windows line endings, for
// Notepad, and without the Linux-only restart hint.
func windowsConfig() string {
	s := strings.ReplaceAll(installer.ConfigTemplate,
		"# After a change: systemctl restart shadowmap-agent; check with\n# shadowmap-agent status.\n",
		"# After a change: Restart-Service shadowmap-agent; check with\n# shadowmap-agent status.\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("agent binary: %w", err)
	}
	return os.WriteFile(to, data, 0o644)
}

// runTool runs an msitools program in dir. wixl exits 0 after warning
// about an attribute or element it does not know and leaves it out, so any
// GLib warning counts as a failure: the package would silently lack it.
func runTool(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	output, err := cmd.CombinedOutput()
	out := strings.TrimSpace(string(output))
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, out)
	}
	if strings.Contains(out, "WARNING") || strings.Contains(out, "CRITICAL") {
		return fmt.Errorf("%s: %s", name, out)
	}
	return nil
}
