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
// ReadPcap replays a pcap or pcapng file through the same Decoder; Live
// captures from the network (Linux AF_PACKET with a kernel filter; other
// operating systems are not implemented yet).
package capture
