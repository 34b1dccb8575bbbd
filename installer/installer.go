// Package installer holds what every agent package shares: the version
// numbers each package format wants, the paths the agent is installed to
// on each OS, and the configuration file a fresh install starts with.
//
// The packages themselves are built by its subpackages, one per format
// (linuxpkg: .deb and .rpm; msi: Windows Installer; macpkg: macOS flat
// .pkg; mdm: configuration profiles and scripts), all on Linux, by
// cmd/shadowmap-packager (`make packages`). Every package is generic: the
// company's collector URL and enroll secret come from the MDM profile, the
// MSI's properties or the config file, never from the package.
package installer

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/service"
)

// Version is the agent's version, as `git describe --tags` tells it.
type Version struct {
	Major, Minor, Patch int
	// Commits past the tag and the commit's abbreviated hash, for builds
	// between releases; zero and empty for a release.
	Commits int
	Hash    string
	// Dirty marks a build from a work tree with uncommitted changes.
	Dirty bool
}

var (
	describeRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g([0-9a-f]{4,40}))?(-dirty)?$`)
	hashRe     = regexp.MustCompile(`^([0-9a-f]{4,40})(-dirty)?$`)
)

// maxMSIComponent bounds the major and minor numbers: Windows Installer
// compares ProductVersion as major.minor.build with major and minor below
// 256 and build below 65536.
const (
	maxMSIComponent = 255
	maxMSIBuild     = 65535
)

// ParseVersion reads `git describe --tags --always --dirty` output:
// "v1.2.3", "v1.2.3-4-gabc1234", or a bare hash ("abc1234", a repository
// without tags), each optionally ending in "-dirty". A bare hash is version
// 0.0.0 with that hash. "dev" (no git at all) is 0.0.0.
func ParseVersion(s string) (Version, error) {
	if s == "dev" || s == "" {
		return Version{}, nil
	}
	if m := describeRe.FindStringSubmatch(s); m != nil {
		var v Version
		var err error
		for i, dst := range []*int{&v.Major, &v.Minor, &v.Patch} {
			if *dst, err = strconv.Atoi(m[i+1]); err != nil {
				return Version{}, fmt.Errorf("version %q: %w", s, err)
			}
		}
		if m[4] != "" {
			if v.Commits, err = strconv.Atoi(m[4]); err != nil {
				return Version{}, fmt.Errorf("version %q: %w", s, err)
			}
			v.Hash = m[5]
		}
		v.Dirty = m[6] != ""
		if err := v.CheckMSI(); err != nil {
			return Version{}, fmt.Errorf("version %q: %w", s, err)
		}
		return v, nil
	}
	if m := hashRe.FindStringSubmatch(s); m != nil {
		return Version{Hash: m[1], Dirty: m[2] != ""}, nil
	}
	return Version{}, fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH, git describe output, or a commit hash", s)
}

// CheckMSI reports whether Windows Installer can hold v as a
// ProductVersion: ParseVersion checks it, and the MSI build checks it
// again for a Version made by hand.
func (v Version) CheckMSI() error {
	if v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Major > maxMSIComponent || v.Minor > maxMSIComponent || v.Patch > maxMSIBuild {
		return fmt.Errorf("Windows Installer takes at most %d.%d.%d", maxMSIComponent, maxMSIComponent, maxMSIBuild)
	}
	return nil
}

// Release is MAJOR.MINOR.PATCH.
func (v Version) Release() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// String is the version as people read it: 1.2.3, or
// 1.2.3-4-gabc1234[-dirty] between releases.
func (v Version) String() string {
	s := v.Release()
	if v.Hash != "" {
		s += fmt.Sprintf("-%d-g%s", v.Commits, v.Hash)
	}
	if v.Dirty {
		s += "-dirty"
	}
	return s
}

// Prerelease is the part of a build between releases that package
// versions carry after the release ("git4.abc1234", "dirty"), or "" for a
// release. It only holds letters, digits and dots, which every format
// accepts.
func (v Version) Prerelease() string {
	s := ""
	if v.Hash != "" {
		s = fmt.Sprintf("git%d.%s", v.Commits, v.Hash)
	}
	if v.Dirty {
		if s != "" {
			s += "."
		}
		s += "dirty"
	}
	return s
}

// Deb is the Debian package version: 1.2.3, or 1.2.3+git4.abc1234 so a
// build after a release sorts after it.
func (v Version) Deb() string {
	if p := v.Prerelease(); p != "" {
		return v.Release() + "+" + p
	}
	return v.Release()
}

// RPM is the RPM version and release: ("1.2.3", "1"), or
// ("1.2.3", "1.git4.abc1234") between releases (RPM versions may not
// hold '-').
func (v Version) RPM() (version, release string) {
	if p := v.Prerelease(); p != "" {
		return v.Release(), "1." + p
	}
	return v.Release(), "1"
}

// MSI is the ProductVersion: MAJOR.MINOR.PATCH. Windows Installer ignores
// anything past the third field when it compares versions, so builds
// between releases share their release's number; the MSI allows
// same-version upgrades for that reason.
func (v Version) MSI() string { return v.Release() }

// Paths on each OS. The configuration file and state directory are the
// agent's own defaults (agent/config), so `shadowmap-agent status` and
// `service` find the installed agent's state and configuration without
// flags.
const (
	LinuxExecutable  = "/usr/bin/shadowmap-agent"
	DarwinExecutable = "/usr/local/bin/shadowmap-agent"
	// WindowsExecutableName is the agent's file in the MSI's install
	// folder under Program Files.
	WindowsExecutableName = "shadowmap-agent.exe"
)

// LinuxDefinition is the service definition the .deb and .rpm install.
func LinuxDefinition() service.Definition {
	return definition("linux", LinuxExecutable)
}

// DarwinDefinition is the service definition the macOS .pkg installs.
func DarwinDefinition() service.Definition {
	return definition("darwin", DarwinExecutable)
}

// definition runs executable with the agent's default configuration file
// and state directory on goos.
func definition(goos, executable string) service.Definition {
	return service.Definition{
		Executable: executable,
		ConfigPath: config.DefaultConfigPathFor(goos, nil),
		StateDir:   config.DefaultStateDirFor(goos, nil),
	}
}

// Input is what every package build starts from: one agent binary built
// for one OS and architecture.
type Input struct {
	Version Version
	// GOARCH of Binary: amd64 or arm64.
	Arch string
	// Binary is the path of the agent built for the package's OS and Arch.
	Binary string
	// OutDir is where the package is written.
	OutDir string
}

// ConfigTemplate is the configuration file a fresh install leaves for IT to
// fill in (Linux), or for reference where MDM manages the settings. Every
// line is a comment: with nothing set, the agent starts, reports "collector
// URL is not set" in `shadowmap-agent status`, and retries each minute
// without spinning.
const ConfigTemplate = `# shadowmap agent configuration. Settings from MDM (a configuration
# profile on macOS, the policy key HKLM\SOFTWARE\Policies\Shadowmap\Agent on
# Windows) and SHADOWMAP_AGENT_* environment variables take precedence.
# After a change: systemctl restart shadowmap-agent; check with
# shadowmap-agent status.

# The collector's URL (https required unless it runs on this machine).
#collector_url: https://shadowmap.example.com

# The enroll secret from the collector's configuration. Keep this file
# readable by root only, or point enroll_secret_file at a file that is.
#enroll_secret: ""
#enroll_secret_file: /etc/shadowmap/enroll-secret

# The device owner's email, when the installer knows it.
#owner_email: ""

# Send registrable domains that matched no app, with counts only.
#unknown_domains: false
# Your own domains (and every name under them) are never reported.
#own_domains: [acme.com]
`
