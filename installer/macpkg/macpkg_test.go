package macpkg

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"debug/macho"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/installer/macpkg/bom"
	"github.com/shadowmap/shadowmap/installer/macpkg/cpio"
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// buildHello builds testdata/hello for darwin/goarch: a real Mach-O
// executable that is quicker to build than the agent.
func buildHello(t *testing.T, goarch string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hello-"+goarch)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=darwin", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build darwin/%s: %v\n%s", goarch, err, b)
	}
	return out
}

func universal(t *testing.T) (fat, amd64, arm64 string) {
	t.Helper()
	amd64, arm64 = buildHello(t, "amd64"), buildHello(t, "arm64")
	fat = filepath.Join(t.TempDir(), "hello-universal")
	if err := Universal(fat, amd64, arm64); err != nil {
		t.Fatal(err)
	}
	return fat, amd64, arm64
}

func TestUniversal(t *testing.T) {
	fat, amd64, arm64 := universal(t)
	f, err := macho.OpenFat(fat)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Magic != macho.MagicFat || len(f.Arches) != 2 {
		t.Fatalf("magic %#x, %d arches", f.Magic, len(f.Arches))
	}
	content, err := os.ReadFile(fat)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		cpu  macho.Cpu
		path string
	}{{macho.CpuAmd64, amd64}, {macho.CpuArm64, arm64}} {
		a := f.Arches[i]
		thin, err := os.ReadFile(want.path)
		if err != nil {
			t.Fatal(err)
		}
		if a.Cpu != want.cpu || a.Align != fatAlign || a.Offset%(1<<fatAlign) != 0 {
			t.Errorf("arch %d: cpu %v align %d offset %#x", i, a.Cpu, a.Align, a.Offset)
		}
		if !bytes.Equal(content[a.Offset:a.Offset+a.Size], thin) {
			t.Errorf("arch %d: slice differs from %s", i, want.path)
		}
		if a.Type != macho.TypeExec {
			t.Errorf("arch %d: type %v", i, a.Type)
		}
	}
	fi, err := os.Stat(fat)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("universal binary mode: %v %v", fi, err)
	}
}

func TestUniversalRejects(t *testing.T) {
	amd64, arm64 := buildHello(t, "amd64"), buildHello(t, "arm64")
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fat")
	tests := []struct {
		name, amd64, arm64, want string
	}{
		{"swapped", arm64, amd64, "want"},
		{"not mach-o", junk, arm64, "not a thin Mach-O"},
		{"missing", filepath.Join(t.TempDir(), "nope"), arm64, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Universal(out, tt.amd64, tt.arm64)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDistributionAndPackageInfoGolden(t *testing.T) {
	golden.Check(t, "testdata/Distribution.golden", distribution("1.2.3+git4.abc1234", "x86_64,arm64", 5021))
	golden.Check(t, "testdata/PackageInfo.golden", packageInfo("1.2.3+git4.abc1234", 8, 5021))
}

func TestFileName(t *testing.T) {
	v := installer.Version{Major: 1, Minor: 2, Patch: 3}
	dev := installer.Version{Major: 1, Minor: 2, Patch: 3, Commits: 4, Hash: "abc1234", Dirty: true}
	tests := []struct {
		v    installer.Version
		arch string
		want string
	}{
		{v, ArchUniversal, "shadowmap-agent-1.2.3.pkg"},
		{v, "arm64", "shadowmap-agent-1.2.3-arm64.pkg"},
		{dev, ArchUniversal, "shadowmap-agent-1.2.3+git4.abc1234.dirty.pkg"},
	}
	for _, tt := range tests {
		if got := FileName(tt.v, tt.arch); got != tt.want {
			t.Errorf("FileName(%v, %s) = %s, want %s", tt.v, tt.arch, got, tt.want)
		}
	}
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "Packaging", tool+" is not installed")
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func gunzipCpio(t *testing.T, path string) []cpio.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	entries, err := cpio.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return entries
}

func TestBuild(t *testing.T) {
	needTools(t, "bsdtar", "xmllint", "sh")
	fat, _, _ := universal(t)
	version := installer.Version{Major: 1, Minor: 4, Patch: 0, Commits: 2, Hash: "0123abc"}
	outDir := t.TempDir()
	pkg, err := BuildWith(context.Background(), installer.Input{Version: version, Arch: ArchUniversal, Binary: fat, OutDir: outDir}, Options{ModTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(outDir, "shadowmap-agent-1.4.0+git2.0123abc.pkg"); pkg != want {
		t.Errorf("path = %s, want %s", pkg, want)
	}
	binary, err := os.ReadFile(fat)
	if err != nil {
		t.Fatal(err)
	}

	// The product archive's members, as bsdtar lists them.
	listing := run(t, "bsdtar", "-tvf", pkg)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		names = append(names, f[len(f)-1])
		if f[2] != "root" || f[3] != "wheel" {
			t.Errorf("member not owned by root:wheel: %s", line)
		}
	}
	sort.Strings(names)
	if want := []string{"Distribution", "shadowmap-agent.pkg", "shadowmap-agent.pkg/Bom", "shadowmap-agent.pkg/PackageInfo", "shadowmap-agent.pkg/Payload", "shadowmap-agent.pkg/Scripts"}; !reflect.DeepEqual(names, want) {
		t.Errorf("members = %v, want %v\n%s", names, want, listing)
	}
	dir := t.TempDir()
	run(t, "bsdtar", "-xf", pkg, "-C", dir)
	comp := filepath.Join(dir, componentName)

	t.Run("xar toc", func(t *testing.T) {
		data, err := os.ReadFile(pkg)
		if err != nil {
			t.Fatal(err)
		}
		a, err := parseXar(data) // verifies the sha1 TOC checksum
		if err != nil {
			t.Fatal(err)
		}
		if want := testTime.Format("2006-01-02T15:04:05"); a.toc.CreationTime != want {
			t.Errorf("creation-time %s, want %s", a.toc.CreationTime, want)
		}
		var check func(prefix string, files []xarFile)
		seen := 0
		check = func(prefix string, files []xarFile) {
			for _, f := range files {
				p := prefix + f.Name
				if f.Type == "directory" {
					check(p+"/", f.Files)
					continue
				}
				seen++
				content, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha1.Sum(content)
				d := f.Data
				if d == nil || d.Extracted.Style != "sha1" || d.Archived.Style != "sha1" || d.Extracted.Value != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: data %+v, want sha1 checksums of the content", p, d)
				}
				if d != nil && d.Encoding.Style != "application/octet-stream" {
					t.Errorf("%s: encoding %s", p, d.Encoding.Style)
				}
			}
		}
		check("", a.toc.Files)
		if seen != 5 {
			t.Errorf("TOC lists %d files, want 5", seen)
		}
	})

	t.Run("xml", func(t *testing.T) {
		run(t, "xmllint", "--noout", filepath.Join(dir, "Distribution"), filepath.Join(comp, "PackageInfo"))
		dist, err := os.ReadFile(filepath.Join(dir, "Distribution"))
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.ReadFile(filepath.Join(comp, "PackageInfo"))
		if err != nil {
			t.Fatal(err)
		}
		kb := int64(len(binary)+len(plistFor(t))+1023) / 1024
		if want := distribution("1.4.0+git2.0123abc", "x86_64,arm64", kb); string(dist) != want {
			t.Errorf("Distribution:\n%s\nwant\n%s", dist, want)
		}
		if want := packageInfo("1.4.0+git2.0123abc", 8, kb); string(info) != want {
			t.Errorf("PackageInfo:\n%s\nwant\n%s", info, want)
		}
	})

	payload := gunzipCpio(t, filepath.Join(comp, "Payload"))
	t.Run("payload", func(t *testing.T) {
		want := map[string]uint32{
			".": 0o040755, "./Library": 0o040755, "./Library/LaunchDaemons": 0o040755,
			"./Library/LaunchDaemons/shadowmap-agent.plist": 0o100644,
			"./usr": 0o040755, "./usr/local": 0o040755, "./usr/local/bin": 0o040755,
			"./usr/local/bin/shadowmap-agent": 0o100755,
		}
		got := map[string]uint32{}
		for _, e := range payload {
			got[e.Name] = e.Mode
			if e.UID != 0 || e.GID != 0 || e.ModTime != testTime.Unix() {
				t.Errorf("%s: uid %d gid %d mtime %d", e.Name, e.UID, e.GID, e.ModTime)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("payload modes %v, want %v", got, want)
		}
		// bsdtar reads it too (gzip, then cpio).
		out := t.TempDir()
		run(t, "bsdtar", "-xpf", filepath.Join(comp, "Payload"), "-C", out)
		exe, err := os.ReadFile(filepath.Join(out, "usr/local/bin/shadowmap-agent"))
		if err != nil || !bytes.Equal(exe, binary) {
			t.Errorf("payload's agent differs from the universal binary (%v)", err)
		}
		plistFile := filepath.Join(out, "Library/LaunchDaemons/shadowmap-agent.plist")
		content, err := os.ReadFile(plistFile)
		if err != nil {
			t.Fatal(err)
		}
		if string(content) != plistFor(t) {
			t.Errorf("plist differs from service.LaunchdPlist(installer.DarwinDefinition())")
		}
		run(t, "xmllint", "--noout", plistFile)
		var doc struct {
			Label            string
			ProgramArguments []string
			RunAtLoad        bool
			KeepAlive        bool
		}
		if _, err := plist.Unmarshal(content, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Label != service.Name || !doc.RunAtLoad || !doc.KeepAlive || len(doc.ProgramArguments) == 0 || doc.ProgramArguments[0] != installer.DarwinExecutable {
			t.Errorf("plist: %+v", doc)
		}
	})

	t.Run("bom matches payload", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(comp, "Bom"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := bom.Read(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Entries) != len(payload) {
			t.Fatalf("Bom lists %d paths, Payload holds %d", len(b.Entries), len(payload))
		}
		byPath := map[string]bom.Entry{}
		for _, e := range b.Entries {
			byPath[e.Path] = e
		}
		for _, p := range payload {
			e, ok := byPath[p.Name]
			if !ok {
				t.Errorf("Bom lacks %s", p.Name)
				continue
			}
			var sum uint32
			if p.Mode&cpio.TypeRegular != 0 {
				sum = bom.Checksum(p.Data)
			}
			if e.Mode != p.Mode || e.UID != p.UID || e.GID != p.GID || int64(e.ModTime) != p.ModTime || int(e.Size) != len(p.Data) || e.Checksum != sum {
				t.Errorf("%s: Bom %+v, Payload mode %o uid %d gid %d mtime %d size %d cksum %d", p.Name, e, p.Mode, p.UID, p.GID, p.ModTime, len(p.Data), sum)
			}
		}
		exe := byPath["./usr/local/bin/shadowmap-agent"]
		if len(exe.Arches) != 2 || exe.Arches[0].CPUType != uint32(macho.CpuAmd64) || exe.Arches[1].CPUType != uint32(macho.CpuArm64) {
			t.Errorf("agent's Bom arches: %+v", exe.Arches)
		}
	})

	t.Run("scripts", func(t *testing.T) {
		scripts := gunzipCpio(t, filepath.Join(comp, "Scripts"))
		var names []string
		for _, e := range scripts {
			names = append(names, e.Name)
			if e.Name != "." && e.Mode != cpio.TypeRegular|0o755 {
				t.Errorf("%s: mode %o, want 0755", e.Name, e.Mode)
			}
		}
		if want := []string{".", "./postinstall", "./preinstall"}; !reflect.DeepEqual(names, want) {
			t.Errorf("scripts = %v, want %v", names, want)
		}
		out := t.TempDir()
		run(t, "bsdtar", "-xpf", filepath.Join(comp, "Scripts"), "-C", out)
		for _, s := range []string{"preinstall", "postinstall"} {
			run(t, "sh", "-n", filepath.Join(out, s))
		}
		testScriptsOnOtherVolume(t, out)
	})

	t.Run("reproducible", func(t *testing.T) {
		again, err := BuildWith(context.Background(), installer.Input{Version: version, Arch: ArchUniversal, Binary: fat, OutDir: t.TempDir()}, Options{ModTime: testTime})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(pkg)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Error("two builds of the same input differ")
		}
	})
}

// testScriptsOnOtherVolume runs the scripts as Installer does for a
// target volume other than "/": postinstall prepares the state directory
// there and neither script touches launchd (a fake launchctl records any
// call).
func testScriptsOnOtherVolume(t *testing.T, scripts string) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	fake := "#!/bin/sh\necho \"$@\" >> '" + calls + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "launchctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	volume := t.TempDir()
	for _, s := range []string{"preinstall", "postinstall"} {
		cmd := exec.Command(filepath.Join(scripts, s), "/tmp/x.pkg", "/", volume, "/")
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", s, err, out)
		}
	}
	fi, err := os.Stat(filepath.Join(volume, "Library/Application Support/shadowmap-agent"))
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(calls); err == nil {
		t.Errorf("launchctl was called for another volume:\n%s", b)
	}
}

func plistFor(t *testing.T) string {
	t.Helper()
	p, err := service.LaunchdPlist(installer.DarwinDefinition())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildThin(t *testing.T) {
	needTools(t, "bsdtar")
	arm64 := buildHello(t, "arm64")
	pkg, err := BuildWith(context.Background(), installer.Input{Version: installer.Version{Major: 2}, Arch: "arm64", Binary: arm64, OutDir: t.TempDir()}, Options{ModTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(pkg) != "shadowmap-agent-2.0.0-arm64.pkg" {
		t.Errorf("name %s", pkg)
	}
	dist := run(t, "bsdtar", "-xOf", pkg, "Distribution")
	if !strings.Contains(dist, `hostArchitectures="arm64"`) {
		t.Errorf("Distribution for arm64:\n%s", dist)
	}
}

// TestBuildArm64First builds from a universal binary whose fat header
// lists arm64 before x86_64, as a binary lipo made and an admin signed
// may: the order of the slices must not matter, and the Bom keeps it.
func TestBuildArm64First(t *testing.T) {
	needTools(t, "bsdtar")
	fat, _, _ := universal(t)
	content, err := os.ReadFile(fat)
	if err != nil {
		t.Fatal(err)
	}
	// The two 20-byte fat_arch records follow the 8-byte fat header;
	// swapping them keeps each pointing at its slice.
	const rec = 20
	first := bytes.Clone(content[8 : 8+rec])
	copy(content[8:], content[8+rec:8+2*rec])
	copy(content[8+rec:], first)
	swapped := filepath.Join(t.TempDir(), "hello-arm64-first")
	if err := os.WriteFile(swapped, content, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := macho.OpenFat(swapped)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if len(f.Arches) != 2 || f.Arches[0].Cpu != macho.CpuArm64 || f.Arches[1].Cpu != macho.CpuAmd64 {
		t.Fatalf("test binary's slices: %+v", f.Arches)
	}

	pkg, err := BuildWith(context.Background(), installer.Input{Version: installer.Version{Major: 2}, Arch: ArchUniversal, Binary: swapped, OutDir: t.TempDir()}, Options{ModTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bom.Read([]byte(run(t, "bsdtar", "-xOf", pkg, componentName+"/Bom")))
	if err != nil {
		t.Fatal(err)
	}
	var cpus []uint32
	for _, e := range b.Entries {
		if e.Path == "."+installer.DarwinExecutable {
			for _, a := range e.Arches {
				cpus = append(cpus, a.CPUType)
			}
		}
	}
	if want := []uint32{uint32(macho.CpuArm64), uint32(macho.CpuAmd64)}; !reflect.DeepEqual(cpus, want) {
		t.Errorf("Bom lists the agent's slices as %v, want %v", cpus, want)
	}

	// A thin package still refuses a universal binary.
	_, err = Build(context.Background(), installer.Input{Version: installer.Version{Major: 2}, Arch: "arm64", Binary: swapped, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "needs") {
		t.Errorf("universal binary for an arm64 package: err = %v, want it to mention \"needs\"", err)
	}
}

func TestBuildRejects(t *testing.T) {
	amd64 := buildHello(t, "amd64")
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("MZ not mach-o"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, arch, binary, want string
	}{
		{"unknown arch", "386", amd64, "want universal"},
		{"thin binary for universal", ArchUniversal, amd64, "needs"},
		{"wrong arch", "arm64", amd64, "needs"},
		{"not mach-o", "amd64", junk, "not a Mach-O"},
		{"missing binary", "amd64", filepath.Join(t.TempDir(), "nope"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := Build(context.Background(), installer.Input{Arch: tt.arch, Binary: tt.binary, OutDir: out})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("left %v in OutDir", left)
			}
		})
	}
}
