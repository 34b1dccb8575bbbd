package linuxpkg

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

// needTool ends the test when a packaging tool is not installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, "Packaging", name+" is not installed")
	}
	return p
}

// run runs a tool and returns its stdout; a failure ends the test.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// rpm and dpkg print dates in local time.
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s%s", name, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// buildAgent builds the real agent for linux/goarch, statically linked as
// the packages ship it.
func buildAgent(t *testing.T, goarch string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shadowmap-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/shadowmap/shadowmap/cmd/shadowmap-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build agent: %v\n%s", err, b)
	}
	return out
}

// fakeELF writes the smallest file checkBinary reads as an executable for
// machine: an ELF header, and with an interpreter a PT_INTERP program
// header, which marks a dynamically linked binary.
func fakeELF(t *testing.T, machine elf.Machine, interp bool) string {
	t.Helper()
	var b bytes.Buffer
	hdr := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Ehsize:    64,
		Phentsize: 56,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if interp {
		hdr.Phoff, hdr.Phnum = 64, 1
	}
	if err := binary.Write(&b, binary.LittleEndian, hdr); err != nil {
		t.Fatal(err)
	}
	if interp {
		ph := elf.Prog64{Type: uint32(elf.PT_INTERP), Off: 120, Filesz: 1, Memsz: 1}
		if err := binary.Write(&b, binary.LittleEndian, ph); err != nil {
			t.Fatal(err)
		}
		b.WriteByte(0)
	}
	path := filepath.Join(t.TempDir(), "fake-agent")
	if err := os.WriteFile(path, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostMachine is the ELF machine of goarch.
func hostMachine(goarch string) elf.Machine {
	if goarch == "arm64" {
		return elf.EM_AARCH64
	}
	return elf.EM_X86_64
}

func mustVersion(t *testing.T, s string) installer.Version {
	t.Helper()
	v, err := installer.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hostArch is the architecture tests build packages for when the content
// does not matter.
func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "amd64"
}
