// Package linuxpkg builds the agent's Linux packages, a .deb and an .rpm
// per architecture, with nfpm as a library: the static agent binary, its
// systemd unit, a commented /etc/shadowmap/agent.yaml kept across
// upgrades, and maintainer scripts (scripts/) that enable and start the
// service on install, restart it on upgrade, and stop and disable it on
// removal. The same script serves both formats: each reads dpkg's and
// rpm's argument conventions.
//
// Builds are reproducible: every time stamp in a package is
// Options.ModTime, and nothing depends on the build machine.
package linuxpkg

import (
	"context"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/installer"
)

//go:embed scripts/postinst.sh scripts/prerm.sh scripts/postrm.sh
var scripts embed.FS

// Package metadata.
const (
	Maintainer = "shadowmap project <https://github.com/shadowmap/shadowmap/issues>"
	Homepage   = "https://github.com/shadowmap/shadowmap"
	License    = "Apache-2.0"
	summary    = "shadowmap endpoint agent: SaaS discovery for IT"
	// The extended description; dpkg shows it under the summary.
	description = "Sees which SaaS apps this device uses, from DNS queries and TLS\n" +
		"server names, and reports only matches against the app catalog to\n" +
		"the company's shadowmap collector. Set the collector URL and enroll\n" +
		"secret in /etc/shadowmap/agent.yaml, then check with\n" +
		"`shadowmap-agent status`."
)

// UnitPath is where both formats install the unit. RPM distributions own
// /usr/lib/systemd/system; Debian moved its packages there from
// /lib/systemd/system with the merged /usr (DEP 17), and systemd reads
// both on systems that are not merged. Starting in /usr/lib means no
// later version ever has to move the file between the two aliased
// directories, which dpkg can lose track of.
const UnitPath = "/usr/lib/systemd/system/" + service.Name + ".service"

// Options are the build settings that do not come from the agent.
type Options struct {
	// ModTime is every file's modification time and the RPM build time.
	// Zero means DefaultModTime; a release build passes its commit's time.
	ModTime time.Time
}

// DefaultModTime is the time stamp of a build that gives none: a fixed
// instant, so the same input always makes the same bytes.
func DefaultModTime() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Build writes the package in format ("deb" or "rpm") for in to in.OutDir
// and returns its path: shadowmap-agent_VERSION_ARCH.deb or
// shadowmap-agent-VERSION-RELEASE.ARCH.rpm.
func Build(ctx context.Context, in installer.Input, format string) (string, error) {
	return BuildWith(ctx, in, format, Options{})
}

// BuildWith is Build with explicit options.
func BuildWith(ctx context.Context, in installer.Input, format string, opts Options) (string, error) {
	path, err := build(ctx, in, format, opts)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", format, err)
	}
	return path, nil
}

// arch is one architecture's name in each format.
type arch struct{ deb, rpm string }

func archNames(goarch string) (arch, error) {
	switch goarch {
	case "amd64":
		return arch{deb: "amd64", rpm: "x86_64"}, nil
	case "arm64":
		return arch{deb: "arm64", rpm: "aarch64"}, nil
	}
	return arch{}, fmt.Errorf("architecture %q: want amd64 or arm64", goarch)
}

// FileName is the name Build gives the package.
func FileName(v installer.Version, goarch, format string) (string, error) {
	a, err := archNames(goarch)
	if err != nil {
		return "", err
	}
	switch format {
	case "deb":
		return fmt.Sprintf("%s_%s_%s.deb", service.Name, v.Deb(), a.deb), nil
	case "rpm":
		ver, rel := v.RPM()
		return fmt.Sprintf("%s-%s-%s.%s.rpm", service.Name, ver, rel, a.rpm), nil
	}
	return "", fmt.Errorf("format %q: want deb or rpm", format)
}

func build(ctx context.Context, in installer.Input, format string, opts Options) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	name, err := FileName(in.Version, in.Arch, format)
	if err != nil {
		return "", err
	}
	a, _ := archNames(in.Arch) // FileName checked it
	if in.OutDir == "" {
		return "", errors.New("no output directory")
	}
	if err := checkBinary(in.Binary, in.Arch); err != nil {
		return "", err
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = DefaultModTime()
	}

	// nfpm reads every file, scripts included, from a path.
	src, err := os.MkdirTemp("", "shadowmap-linuxpkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	unit, err := service.PackagedSystemdUnit(installer.LinuxDefinition())
	if err != nil {
		return "", err
	}
	sources := map[string][]byte{
		"shadowmap-agent.service": []byte(unit),
		"agent.yaml":              []byte(installer.ConfigTemplate),
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := scripts.ReadFile("scripts/" + s + ".sh")
		if err != nil {
			return "", err
		}
		sources[s] = b
	}
	for n, b := range sources {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o600); err != nil {
			return "", err
		}
	}

	info := packageInfo(in, format, a, src, mtime)
	var packager nfpm.Packager = deb.Default
	if format == "rpm" {
		packager = rpm.DefaultRPM
	}

	if err := os.MkdirAll(in.OutDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(in.OutDir, name)
	// Written beside the result and renamed, so a failed build never
	// leaves a package that looks complete.
	f, err := os.CreateTemp(in.OutDir, "."+name+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := packager.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("nfpm: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

func packageInfo(in installer.Input, format string, a arch, src string, mtime time.Time) *nfpm.Info {
	// dpkg takes the summary from the description's first line; RPM has
	// a field for it.
	version, release, desc := in.Version.Deb(), "", summary+"\n"+description
	if format == "rpm" {
		desc = description
		version, release = in.Version.RPM()
	}
	owned := func(mode os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: mtime}
	}
	def := installer.LinuxDefinition()
	return &nfpm.Info{
		Name:     service.Name,
		Arch:     a.deb,
		Platform: "linux",
		// Our version strings are already in each format's syntax; nfpm's
		// semver parsing would turn "+git4.abc1234" into build metadata.
		VersionSchema: "none",
		Version:       version,
		Release:       release,
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    Maintainer,
		Description:   desc,
		Vendor:        "shadowmap",
		Homepage:      Homepage,
		License:       License,
		MTime:         mtime,
		// Paths are literal, never patterns.
		DisableGlobbing: true,
		Overridables: nfpm.Overridables{
			// No Depends: the agent is a static Go binary (checkBinary).
			Contents: files.Contents{
				{Source: in.Binary, Destination: def.Executable, FileInfo: owned(0o755)},
				{Source: filepath.Join(src, "shadowmap-agent.service"), Destination: UnitPath, FileInfo: owned(0o644)},
				// Owned, so removing the package removes the directory
				// when nothing else is left in it.
				{Destination: filepath.Dir(def.ConfigPath), Type: files.TypeDir, FileInfo: owned(0o755)},
				// It will hold the enroll secret: root only.
				{Source: filepath.Join(src, "agent.yaml"), Destination: def.ConfigPath, Type: files.TypeConfigNoReplace, FileInfo: owned(0o600)},
				// The state directory is not shipped: postinst and the
				// agent create it, and purge is what deletes it.
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(src, "postinst"),
				PreRemove:   filepath.Join(src, "prerm"),
				PostRemove:  filepath.Join(src, "postrm"),
			},
			Deb: nfpm.Deb{Arch: a.deb, Compression: "gzip"},
			RPM: nfpm.RPM{
				Arch:        a.rpm,
				Summary:     summary,
				Packager:    Maintainer,
				Compression: "gzip",
				// The build machine's name would make every build differ.
				BuildHost: "localhost",
			},
		},
	}
}

// checkBinary refuses an agent the package could not run: not an ELF
// executable for goarch, or dynamically linked (the package declares no
// dependencies, not even libc).
func checkBinary(path, goarch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("agent binary: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if f.Machine != want {
		return fmt.Errorf("agent binary %s is for %v, not %s", path, f.Machine, goarch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("agent binary %s is dynamically linked; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
