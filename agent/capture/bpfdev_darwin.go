//go:build darwin

package capture

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// BPF device settings. The kernel keeps two buffers of bpfBufferLen per
// device and the agent one; the filter passes little, so 128 KiB rides out
// bursts. bpfReadTimeout bounds how long a capture goroutine takes to
// notice that it must stop.
const (
	bpfBufferLen   = 128 << 10
	bpfReadTimeout = 200 * time.Millisecond
	bpfMaxDevices  = 256 // macOS's default bpf_maxdevices
)

// bpfFD is an open /dev/bpfN bound to an interface.
type bpfFD struct{ fd int }

// openBPF opens a free BPF device on the interface name with a filter for
// its link type, and returns a reader of it. An interface of a link type the
// capture cannot read fails with errLinkUnsupported.
func openBPF(name string, snapLen int) (*bpfReader, error) {
	fd, err := openFreeBPFDevice()
	if err != nil {
		return nil, err
	}
	r, err := setUpBPF(fd, name, snapLen)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("capture: BPF on %s: %w", name, err)
	}
	return r, nil
}

// openFreeBPFDevice opens the first /dev/bpfN not in use; macOS creates more
// device nodes as the last one is opened.
func openFreeBPFDevice() (int, error) {
	for i := range bpfMaxDevices {
		fd, err := unix.Open(fmt.Sprintf("/dev/bpf%d", i), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			return fd, nil
		}
		if errors.Is(err, unix.EBUSY) {
			continue
		}
		return -1, fmt.Errorf("capture: open /dev/bpf%d: %w", i, err)
	}
	return -1, errors.New("capture: no free BPF device")
}

func setUpBPF(fd int, name string, snapLen int) (*bpfReader, error) {
	// The buffer length must be set before the interface.
	if err := unix.IoctlSetPointerInt(fd, unix.BIOCSBLEN, bpfBufferLen); err != nil {
		return nil, fmt.Errorf("BIOCSBLEN: %w", err)
	}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		_    [16]byte // the union of struct ifreq
	}
	if len(name) >= len(ifr.name) {
		return nil, fmt.Errorf("interface name %q too long", name)
	}
	copy(ifr.name[:], name)
	if err := bpfIoctl(fd, unix.BIOCSETIF, unsafe.Pointer(&ifr)); err != nil {
		return nil, fmt.Errorf("BIOCSETIF: %w", err)
	}
	bufLen, err := unix.IoctlGetInt(fd, unix.BIOCGBLEN)
	if err != nil {
		return nil, fmt.Errorf("BIOCGBLEN: %w", err)
	}
	dlt, err := unix.IoctlGetInt(fd, unix.BIOCGDLT)
	if err != nil {
		return nil, fmt.Errorf("BIOCGDLT: %w", err)
	}
	link, ok := bpfLinkType(uint32(dlt))
	if !ok {
		return nil, fmt.Errorf("data-link type %d: %w", dlt, errLinkUnsupported)
	}
	cfg, ok := linkFilterConfig(link, snapLen)
	if !ok {
		return nil, fmt.Errorf("data-link type %d: %w", dlt, errLinkUnsupported)
	}
	prog, err := captureFilter(cfg)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble filter: %w", err)
	}
	insns := make([]unix.BpfInsn, len(raw))
	for i, ins := range raw {
		insns[i] = unix.BpfInsn{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	program := unix.BpfProgram{Len: uint32(len(insns)), Insns: &insns[0]}
	if err := bpfIoctl(fd, unix.BIOCSETF, unsafe.Pointer(&program)); err != nil {
		return nil, fmt.Errorf("BIOCSETF: %w", err)
	}
	// Hand packets over as they arrive rather than when a buffer fills:
	// the filter keeps few, and a lookup should not wait.
	if err := unix.IoctlSetPointerInt(fd, unix.BIOCIMMEDIATE, 1); err != nil {
		return nil, fmt.Errorf("BIOCIMMEDIATE: %w", err)
	}
	timeout := unix.NsecToTimeval(bpfReadTimeout.Nanoseconds())
	if err := bpfIoctl(fd, unix.BIOCSRTIMEOUT, unsafe.Pointer(&timeout)); err != nil {
		return nil, fmt.Errorf("BIOCSRTIMEOUT: %w", err)
	}
	// Drop what was captured before the filter was set.
	if err := unix.IoctlSetInt(fd, unix.BIOCFLUSH, 0); err != nil {
		return nil, fmt.Errorf("BIOCFLUSH: %w", err)
	}
	return newBPFReader(bpfFD{fd}, link, bufLen), nil
}

// bpfIoctl is an ioctl whose argument is a pointer to a structure, which
// x/sys/unix has no typed helper for.
func bpfIoctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

func (d bpfFD) read(buf []byte) (int, error) {
	n, err := unix.Read(d.fd, buf)
	if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
		return 0, errReadTimeout
	}
	return n, err
}

func (d bpfFD) dropped() (uint64, error) {
	var st unix.BpfStat
	if err := bpfIoctl(d.fd, unix.BIOCGSTATS, unsafe.Pointer(&st)); err != nil {
		return 0, fmt.Errorf("BIOCGSTATS: %w", err)
	}
	return uint64(st.Drop), nil
}

func (d bpfFD) close() error { return unix.Close(d.fd) }
