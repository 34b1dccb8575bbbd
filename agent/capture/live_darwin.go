//go:build darwin

package capture

import "context"

// Live capture on macOS reads one BPF device (/dev/bpfN) per interface that
// is up, each with the capture filter compiled for the interface's link
// type (Ethernet and Wi-Fi, the NULL header of lo0 and the utun devices of
// VPNs, raw IP). Interfaces of other link types are skipped. Interfaces are
// re-attached every reattachInterval, so a capture starts on a new
// interface (a Wi-Fi switch, a VPN coming up) within that time.
//
// Loopback duplicates: on lo0 BPF sees a packet once (the loopback output
// path taps it once, as it loops it back), so nothing is dropped; packets
// through a VPN are seen in clear on its utun device and encrypted on the
// physical one, where the filter does not keep them.

// Live captures DNS and, when o.SNI is set, TLS and QUIC server names on the
// interfaces of o (every interface that is up when empty) until ctx ends,
// calling emit for every name found. emit is never called concurrently. It
// returns the counters of all captures, including packets the kernel
// dropped. Opening BPF devices needs root; failing to open any capture at
// the start is an error, while later failures are logged and retried.
func Live(ctx context.Context, o LiveOptions, emit func(Observation)) (Stats, error) {
	o = o.withDefaults()
	open := func(key liveKey) (packetReader, error) { return openBPF(key.name, o.SnapLen) }
	return newLiveSupervisor(o, func() ([]liveKey, error) { return upInterfaces(o.Interfaces) }, open, emit).run(ctx)
}
