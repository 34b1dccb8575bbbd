package macpkg

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"fmt"
	"os"
)

// fatAlign is the slice alignment lipo uses for arm64 and x86_64 slices:
// 2^14, the arm64 page size.
const fatAlign = 14

// slice is one thin Mach-O going into a universal binary.
type slice struct {
	cpu     macho.Cpu
	subCPU  uint32
	content []byte
}

// Universal writes a universal ("fat") Mach-O at out from two thin darwin
// binaries built by Go for amd64 and arm64, as `lipo -create` would.
func Universal(out string, amd64, arm64 string) error {
	var slices []slice
	for _, in := range []struct {
		path string
		cpu  macho.Cpu
	}{{amd64, macho.CpuAmd64}, {arm64, macho.CpuArm64}} {
		s, err := readThin(in.path, in.cpu)
		if err != nil {
			return fmt.Errorf("universal binary: %w", err)
		}
		slices = append(slices, s)
	}
	var b bytes.Buffer
	put := func(vs ...uint32) {
		for _, v := range vs {
			_ = binary.Write(&b, binary.BigEndian, v)
		}
	}
	put(macho.MagicFat, uint32(len(slices)))
	const align = 1 << fatAlign
	offset := uint64(align) // the header fits in the first aligned block
	offsets := make([]uint64, len(slices))
	for i, s := range slices {
		offsets[i] = offset
		offset = (offset + uint64(len(s.content)) + align - 1) &^ (align - 1)
	}
	if offset > 1<<32-1 {
		return fmt.Errorf("universal binary: %d bytes is too large for a 32-bit fat header", offset)
	}
	for i, s := range slices {
		put(uint32(s.cpu), s.subCPU, uint32(offsets[i]), uint32(len(s.content)), fatAlign)
	}
	for i, s := range slices {
		b.Write(make([]byte, int(offsets[i])-b.Len()))
		b.Write(s.content)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o755); err != nil {
		return fmt.Errorf("universal binary: %w", err)
	}
	return nil
}

// readThin reads a thin 64-bit Mach-O executable for cpu.
func readThin(path string, cpu macho.Cpu) (slice, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return slice{}, err
	}
	f, err := macho.NewFile(bytes.NewReader(content))
	if err != nil {
		return slice{}, fmt.Errorf("%s: not a thin Mach-O file: %w", path, err)
	}
	if f.Cpu != cpu {
		return slice{}, fmt.Errorf("%s: built for %v, want %v", path, f.Cpu, cpu)
	}
	if f.Magic != macho.Magic64 || f.Type != macho.TypeExec {
		return slice{}, fmt.Errorf("%s: not a 64-bit Mach-O executable", path)
	}
	// The subtype goes into the fat header as is, capability bits
	// included, as lipo copies it.
	return slice{cpu: cpu, subCPU: f.SubCpu, content: content}, nil
}
