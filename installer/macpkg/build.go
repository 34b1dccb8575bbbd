// Package macpkg builds the agent's macOS installer package on Linux: a
// flat product archive (what Jamf, Intune and Kandji deploy) holding a
// Distribution and one component package that installs
// /usr/local/bin/shadowmap-agent and its LaunchDaemon, then starts it.
//
// The archive is a xar written by bsdtar; the component's Payload and
// Scripts are gzipped cpio (odc) archives written by the cpio subpackage;
// its Bom, which becomes the receipt, is written by the bom subpackage.
// The package is unsigned: admins sign and notarize it with productsign or
// rcodesign (see docs).
package macpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/macho"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/installer/macpkg/bom"
	"github.com/shadowmap/shadowmap/installer/macpkg/cpio"
)

const (
	// Identifier is the package identifier: the receipt's name
	// (`pkgutil --pkg-info com.shadowmap.agent`) and what MDMs detect
	// the installed version by.
	Identifier = "com.shadowmap.agent"
	// MinOSVersion is the oldest macOS the package installs on.
	MinOSVersion = "11.0"
	// ArchUniversal is the Input.Arch of a package for both Intel and
	// Apple silicon, whose Binary is a universal binary (see Universal).
	ArchUniversal = "universal"

	componentName = "shadowmap-agent.pkg"
	plistPath     = "./Library/LaunchDaemons/" + service.Name + ".plist"
)

// Options tune a build.
type Options struct {
	// ModTime is every packaged file's modification time, and the
	// archive's creation time, so a build is reproducible. Zero means
	// the Binary's modification time.
	ModTime time.Time
}

// Build writes the package for in to in.OutDir and returns its path:
// shadowmap-agent-<version>.pkg for in.Arch "universal",
// shadowmap-agent-<version>-<arch>.pkg for "amd64" or "arm64".
func Build(ctx context.Context, in installer.Input) (string, error) {
	return BuildWith(ctx, in, Options{})
}

// BuildWith is Build with options.
func BuildWith(ctx context.Context, in installer.Input, opts Options) (string, error) {
	p, err := build(ctx, in, opts)
	if err != nil {
		return "", fmt.Errorf("build macOS pkg: %w", err)
	}
	return p, nil
}

// FileName is the name Build gives the package for version and arch.
func FileName(v installer.Version, arch string) string {
	if arch == ArchUniversal {
		return fmt.Sprintf("%s-%s.pkg", service.Name, v.Deb())
	}
	return fmt.Sprintf("%s-%s-%s.pkg", service.Name, v.Deb(), arch)
}

func build(ctx context.Context, in installer.Input, opts Options) (string, error) {
	binary, err := os.ReadFile(in.Binary)
	if err != nil {
		return "", err
	}
	arches, err := machoArches(binary, in.Arch)
	if err != nil {
		return "", fmt.Errorf("%s: %w", in.Binary, err)
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		fi, err := os.Stat(in.Binary)
		if err != nil {
			return "", err
		}
		mtime = fi.ModTime()
	}
	c, err := newComponent(binary, arches, mtime)
	if err != nil {
		return "", err
	}
	version := in.Version.Deb()
	hosts := hostArchitectures(in.Arch)
	members := []member{
		{name: "Distribution", data: []byte(distribution(version, hosts, c.installKBytes))},
		{name: componentName + "/", dir: true},
		{name: componentName + "/Bom", data: c.bom},
		{name: componentName + "/PackageInfo", data: []byte(packageInfo(version, c.numberOfFiles, c.installKBytes))},
		{name: componentName + "/Payload", data: c.payload},
		{name: componentName + "/Scripts", data: c.scripts},
	}
	out := filepath.Join(in.OutDir, FileName(in.Version, in.Arch))
	if err := writeXar(ctx, out, members, mtime); err != nil {
		return "", err
	}
	return out, nil
}

// machoArches checks that binary is a darwin executable for arch and
// returns its slices for the Bom.
func machoArches(binary []byte, arch string) ([]bom.Arch, error) {
	var want []macho.Cpu
	switch arch {
	case ArchUniversal:
		want = []macho.Cpu{macho.CpuAmd64, macho.CpuArm64}
	case "amd64":
		want = []macho.Cpu{macho.CpuAmd64}
	case "arm64":
		want = []macho.Cpu{macho.CpuArm64}
	default:
		return nil, fmt.Errorf("arch %q: want %s, amd64 or arm64", arch, ArchUniversal)
	}
	var got []bom.Arch
	var cpus []macho.Cpu
	if fat, err := macho.NewFatFile(bytes.NewReader(binary)); err == nil {
		for _, a := range fat.Arches {
			end := uint64(a.Offset) + uint64(a.Size)
			if end > uint64(len(binary)) {
				return nil, fmt.Errorf("universal binary: %v slice runs past the end", a.Cpu)
			}
			got = append(got, bom.Arch{CPUType: uint32(a.Cpu), CPUSubtype: a.SubCpu, Size: a.Size,
				Checksum: bom.Checksum(binary[a.Offset:end])})
			cpus = append(cpus, a.Cpu)
		}
	} else if f, err := macho.NewFile(bytes.NewReader(binary)); err == nil {
		got = []bom.Arch{{CPUType: uint32(f.Cpu), CPUSubtype: f.SubCpu, Size: uint32(len(binary)), Checksum: bom.Checksum(binary)}}
		cpus = []macho.Cpu{f.Cpu}
	} else {
		return nil, errors.New("not a Mach-O executable (build the agent with GOOS=darwin)")
	}
	// lipo and codesign may order the slices either way: compare sets
	// (NewFatFile refuses a CPU listed twice).
	slices.Sort(cpus)
	slices.Sort(want)
	if !slices.Equal(cpus, want) {
		return nil, fmt.Errorf("binary holds %v, package arch %q needs %v", cpus, arch, want)
	}
	return got, nil
}

func hostArchitectures(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	return "x86_64,arm64"
}

// component is the component package's content.
type component struct {
	payload, scripts, bom []byte
	numberOfFiles         int
	installKBytes         int64
}

// item is one path the payload installs.
type item struct {
	path   string
	mode   uint32
	data   []byte
	arches []bom.Arch
}

// payloadItems lists what the package installs, parents first; every
// path is owned by root:wheel (0:0).
func payloadItems(binary []byte, arches []bom.Arch, plist string) []item {
	d := func(p string) item { return item{path: p, mode: cpio.TypeDirectory | 0o755} }
	return []item{
		d("."),
		d("./Library"),
		d("./Library/LaunchDaemons"),
		{path: plistPath, mode: cpio.TypeRegular | 0o644, data: []byte(plist)},
		d("./usr"),
		d("./usr/local"),
		d("./usr/local/bin"),
		{path: "." + installer.DarwinExecutable, mode: cpio.TypeRegular | 0o755, data: binary, arches: arches},
	}
}

func newComponent(binary []byte, arches []bom.Arch, mtime time.Time) (component, error) {
	plist, err := service.LaunchdPlist(installer.DarwinDefinition())
	if err != nil {
		return component{}, err
	}
	items := payloadItems(binary, arches, plist)
	var c component
	if c.payload, err = gzipCpio(items, mtime); err != nil {
		return component{}, fmt.Errorf("payload: %w", err)
	}
	scripts := []item{
		{path: ".", mode: cpio.TypeDirectory | 0o755},
		{path: "./postinstall", mode: cpio.TypeRegular | 0o755, data: []byte(postinstallScript)},
		{path: "./preinstall", mode: cpio.TypeRegular | 0o755, data: []byte(preinstallScript)},
	}
	if c.scripts, err = gzipCpio(scripts, mtime); err != nil {
		return component{}, fmt.Errorf("scripts: %w", err)
	}
	var entries []bom.Entry
	var size int64
	for _, it := range items {
		entries = append(entries, bom.Entry{
			Path: it.path, Mode: it.mode, ModTime: uint32(mtime.Unix()),
			Size: uint32(len(it.data)), Checksum: checksum(it), Arches: it.arches,
		})
		size += int64(len(it.data))
	}
	var b bytes.Buffer
	if err := bom.Write(&b, entries); err != nil {
		return component{}, err
	}
	c.bom = b.Bytes()
	c.numberOfFiles = len(items)
	c.installKBytes = (size + 1023) / 1024
	return c, nil
}

func checksum(it item) uint32 {
	if it.mode&cpio.TypeDirectory != 0 {
		return 0
	}
	return bom.Checksum(it.data)
}

func gzipCpio(items []item, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	// A zero gzip header (no name, no time) keeps the output reproducible.
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	cw := cpio.NewWriter(zw)
	for _, it := range items {
		if err := cw.Add(cpio.Entry{Name: it.path, Mode: it.mode, ModTime: mtime.Unix(), Data: it.data}); err != nil {
			return nil, err
		}
	}
	if err := cw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// distribution is the product archive's Distribution: what Installer
// shows and checks before installing, and which component to install.
func distribution(version, hosts string, installKBytes int64) string {
	v := xmlText(version)
	return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>shadowmap agent</title>
    <product id="%[1]s" version="%[2]s"/>
    <options customize="never" require-scripts="false" hostArchitectures="%[3]s"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <volume-check>
        <allowed-os-versions>
            <os-version min="%[4]s"/>
        </allowed-os-versions>
    </volume-check>
    <choices-outline>
        <line choice="default">
            <line choice="%[1]s"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="%[1]s" visible="false">
        <pkg-ref id="%[1]s"/>
    </choice>
    <pkg-ref id="%[1]s" version="%[2]s" onConclusion="none" installKBytes="%[5]d">#%[6]s</pkg-ref>
</installer-gui-script>
`, Identifier, v, hosts, MinOSVersion, installKBytes, componentName)
}

// packageInfo describes the component package: where it installs, as
// whom, and which scripts run around the payload.
func packageInfo(version string, numberOfFiles int, installKBytes int64) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<pkg-info format-version="2" identifier="%s" version="%s" install-location="/" auth="root" postinstall-action="none">
    <payload numberOfFiles="%d" installKBytes="%d"/>
    <bundle-version/>
    <upgrade-bundle/>
    <update-bundle/>
    <atomic-update-bundle/>
    <strict-identifier/>
    <relocate/>
    <scripts>
        <preinstall file="./preinstall"/>
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
`, Identifier, xmlText(version), numberOfFiles, installKBytes)
}

// member is one file or directory of the xar archive.
type member struct {
	name string
	dir  bool
	data []byte
}

// writeXar writes members to a xar archive at out with bsdtar. bsdtar
// reads them from a tar stream rather than from disk, so the archive
// records no inode numbers, ctimes or atimes of the build machine.
func writeXar(ctx context.Context, out string, members []member, mtime time.Time) error {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), ModTime: mtime.Truncate(time.Second),
			Uname: "root", Gname: "wheel", Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if m.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar %s: %w", m.name, err)
		}
		if _, err := tw.Write(m.data); err != nil {
			return fmt.Errorf("tar %s: %w", m.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	tmp := out + ".tmp"
	defer os.Remove(tmp)
	// Stored members (no gzip inside the xar): Payload and Scripts are
	// compressed already, and every xar reader handles
	// application/octet-stream. SHA-1 for the TOC and file checksums is
	// what pkgbuild and productbuild write.
	cmd := exec.CommandContext(ctx, "bsdtar", "-c", "--format", "xar",
		"--options", "xar:toc-checksum=sha1,xar:checksum=sha1,xar:compression=none",
		"-f", tmp, "@-")
	cmd.Stdin = &tb
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bsdtar --format xar: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	raw, err := os.ReadFile(tmp)
	if err != nil {
		return err
	}
	fixed, err := setXarCreationTime(raw, mtime)
	if err != nil {
		return fmt.Errorf("xar from bsdtar: %w", err)
	}
	if err := os.WriteFile(tmp, fixed, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
