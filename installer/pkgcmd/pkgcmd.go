// Package pkgcmd is the command line of cmd/shadowmap-packager: `build`
// turns the cross-built agents into the packages MDM deploys, and
// `mobileconfig` writes a company's macOS configuration profile.
package pkgcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/installer/linuxpkg"
	"github.com/shadowmap/shadowmap/installer/macpkg"
	"github.com/shadowmap/shadowmap/installer/mdm"
	"github.com/shadowmap/shadowmap/installer/msi"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// allFormats are the package formats `build` knows, in the order it
// builds them.
func allFormats() []string { return []string{"deb", "rpm", "msi", "pkg"} }

// BuildCommand is `shadowmap-packager build`.
func BuildCommand(ctx context.Context, stdout io.Writer, version string) cli.Command {
	return cli.Command{
		Usage:   "build [--agents DIR] [--out DIR] [--formats deb,rpm,msi,pkg] [--sign-cert F --sign-key F]",
		Summary: "build the agent's packages from the cross-built agents (make agents)",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("build", flag.ContinueOnError)
			agents := fs.String("agents", "bin/agents", "directory of the cross-built agents (shadowmap-agent-OS-ARCH[.exe])")
			out := fs.String("out", "dist", "directory the packages are written to")
			formats := fs.String("formats", strings.Join(allFormats(), ","), "comma-separated formats to build")
			ver := fs.String("version", version, "version, as `git describe --tags --always --dirty` prints it")
			signCert := fs.String("sign-cert", "", "PEM certificate chain to Authenticode-sign the MSI with")
			signKey := fs.String("sign-key", "", "PEM private key of --sign-cert")
			timestamp := fs.String("timestamp-url", "", "RFC 3161 timestamp server for the MSI signature")
			epoch := fs.Int64("source-date-epoch", envEpoch(), "Unix time stamped on every packaged file, for reproducible packages (default $SOURCE_DATE_EPOCH)")
			macBinary := fs.String("macos-binary", "", "a universal agent already signed with Developer ID (codesign or rcodesign), packaged as it is; default: made from --agents")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 0 {
				return fmt.Errorf("build: unexpected arguments %q", fs.Args())
			}
			v, err := installer.ParseVersion(*ver)
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			want := strings.Split(*formats, ",")
			for _, f := range want {
				if !slices.Contains(allFormats(), f) {
					return fmt.Errorf("build: unknown format %q (want some of %s)", f, strings.Join(allFormats(), ", "))
				}
			}
			var sign *msi.Signing
			switch {
			case *signCert != "" && *signKey != "":
				sign = &msi.Signing{CertFile: *signCert, KeyFile: *signKey, TimestampURL: *timestamp}
			case *signCert != "" || *signKey != "":
				return errors.New("build: --sign-cert and --sign-key go together")
			}
			if err := os.MkdirAll(*out, 0o755); err != nil {
				return fmt.Errorf("build: %w", err)
			}
			b := builder{ctx: ctx, version: v, agents: *agents, out: *out, sign: sign, macBinary: *macBinary}
			if *epoch > 0 {
				b.modTime = time.Unix(*epoch, 0).UTC()
			}
			var built []string
			for _, f := range allFormats() {
				if !slices.Contains(want, f) {
					continue
				}
				paths, err := b.build(f)
				if err != nil {
					return err
				}
				for _, p := range paths {
					fmt.Fprintln(stdout, p)
				}
				built = append(built, paths...)
			}
			return writeChecksums(filepath.Join(*out, "SHA256SUMS"), built)
		},
	}
}

type builder struct {
	ctx     context.Context
	version installer.Version
	agents  string
	out     string
	sign    *msi.Signing
	// modTime is stamped on packaged files; zero leaves each format's
	// default.
	modTime   time.Time
	macBinary string
}

// envEpoch reads SOURCE_DATE_EPOCH (reproducible-builds.org), 0 when unset
// or not a number.
func envEpoch() int64 {
	n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (b builder) agent(goos, arch string) (string, error) {
	name := "shadowmap-agent-" + goos + "-" + arch
	if goos == "windows" {
		name += ".exe"
	}
	p := filepath.Join(b.agents, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("agent for %s/%s: %w (run make agents first)", goos, arch, err)
	}
	return p, nil
}

func (b builder) input(goos, arch string) (installer.Input, error) {
	bin, err := b.agent(goos, arch)
	if err != nil {
		return installer.Input{}, err
	}
	return installer.Input{Version: b.version, Arch: arch, Binary: bin, OutDir: b.out}, nil
}

// build builds one format for every architecture it ships for.
func (b builder) build(format string) ([]string, error) {
	var paths []string
	switch format {
	case "deb", "rpm":
		for _, arch := range []string{"amd64", "arm64"} {
			in, err := b.input("linux", arch)
			if err != nil {
				return nil, err
			}
			p, err := linuxpkg.BuildWith(b.ctx, in, format, linuxpkg.Options{ModTime: b.modTime})
			if err != nil {
				return nil, err
			}
			paths = append(paths, p)
		}
	case "msi":
		in, err := b.input("windows", "amd64")
		if err != nil {
			return nil, err
		}
		p, err := msi.Build(b.ctx, in, b.sign)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
		// Intune's Win32 app detection rule goes beside the MSI, built
		// for its version: an older install counts as not installed, so
		// a superseding app gets installed.
		script, err := mdm.IntuneDetectionScript(in.Version.MSI())
		if err != nil {
			return nil, fmt.Errorf("build msi: %w", err)
		}
		detect := filepath.Join(b.out, "intune-detect.ps1")
		if err := os.WriteFile(detect, script, 0o644); err != nil {
			return nil, fmt.Errorf("build msi: %w", err)
		}
		paths = append(paths, detect)
	case "pkg":
		// One package for both kinds of Mac: a universal binary.
		universal := b.macBinary
		if universal == "" {
			dir, err := os.MkdirTemp("", "shadowmap-pkg-")
			if err != nil {
				return nil, fmt.Errorf("build pkg: %w", err)
			}
			defer os.RemoveAll(dir)
			universal = filepath.Join(dir, "shadowmap-agent")
			if err := b.universal(universal); err != nil {
				return nil, err
			}
		}
		in := installer.Input{Version: b.version, Arch: macpkg.ArchUniversal, Binary: universal, OutDir: b.out}
		p, err := macpkg.BuildWith(b.ctx, in, macpkg.Options{ModTime: b.modTime})
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// universal joins the two darwin agents into one binary at out.
func (b builder) universal(out string) error {
	amd, err := b.agent("darwin", "amd64")
	if err != nil {
		return err
	}
	arm, err := b.agent("darwin", "arm64")
	if err != nil {
		return err
	}
	return macpkg.Universal(out, amd, arm)
}

// writeChecksums writes sha256sum's format, so admins check a download
// with `sha256sum -c SHA256SUMS`. Entries of an earlier build whose files
// are still in the directory are kept: `build --formats pkg` after a full
// build must not drop the .deb and .msi from the list.
func writeChecksums(path string, files []string) error {
	sums := map[string]string{} // file name -> hex digest
	if old, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(old), "\n") {
			sum, name, ok := strings.Cut(line, "  ")
			if !ok || len(sum) != sha256.Size*2 || strings.ContainsAny(name, `/\`) {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), name)); err == nil {
				sums[name] = sum
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checksums: %w", err)
	}
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		sums[filepath.Base(f)] = sum
	}
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[name], name)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("checksums: %w", err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// UniversalCommand is `shadowmap-packager universal`: the macOS agent as
// one binary for Intel and Apple silicon, for admins who sign it before
// packaging (build --macos-binary).
func UniversalCommand() cli.Command {
	return cli.Command{
		Usage:   "universal DARWIN-AMD64 DARWIN-ARM64 OUT",
		Summary: "join the two macOS agents into one universal binary (to sign it before `build --macos-binary`)",
		Run: func(args []string) error {
			if len(args) != 3 {
				return errors.New("universal: want DARWIN-AMD64 DARWIN-ARM64 OUT")
			}
			return macpkg.Universal(args[2], args[0], args[1])
		},
	}
}
