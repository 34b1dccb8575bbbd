// Package capture turns packets into observed domain names: DNS query names
// and CNAME chains from DNS over UDP and TCP, and (through the SNI hook that
// package capture/sni fills in) TLS and QUIC server names.
//
// A Decoder decodes one link type with gopacket's DecodingLayerParser and
// preallocated layers, so the common case (a DNS query over UDP) allocates
// nothing per packet. All per-flow state (TCP reassembly, IP fragments, the
// name intern table) is bounded; under pressure the oldest state is evicted
// and counted rather than grown. Bad input is counted in Stats, never
// panicked on.
//
// ClientHellos and QUIC Initials that span several packets (post-quantum
// key shares make them ~1.8 KB) are reassembled in bounded tables.
//
// ReadPcap replays a pcap or pcapng file through the same Decoder; Live
// captures from the network: Linux AF_PACKET and macOS BPF devices, both
// with one kernel filter generated per link type, and on Windows the
// DNS-Client event log (names only: no SNI there).
package capture
