package capture

import "time"

// Sources of an Observation.
const (
	SourceDNS = "dns"
	SourceSNI = "sni"
)

// Observation is one domain name seen on the wire.
type Observation struct {
	Time time.Time
	// Name is lowercase, without a trailing dot.
	Name string
	// Source is SourceDNS or SourceSNI.
	Source string
}

// Stats counts what a Decoder has seen. All counters only grow.
type Stats struct {
	Packets     uint64 // packets handed to Decode
	DNSMessages uint64 // DNS messages decoded successfully (UDP and TCP)
	Names       uint64 // observations emitted with Source "dns"
	SNINames    uint64 // observations emitted with Source "sni"
	Reassembled uint64 // IP datagrams rebuilt from fragments
	// SNIReassembled counts the SNINames found in a ClientHello that
	// spanned two or more TCP segments or QUIC Initial packets.
	SNIReassembled uint64
	// Dropped counts packets the kernel accepted for a live capture but
	// dropped because the capture buffer was full (live capture only).
	Dropped uint64
	Errors  ErrorCounts
}

// ErrorCounts counts bad input by kind.
type ErrorCounts struct {
	Link            uint64 // link, IP or transport header that does not decode, or unknown link type
	NotDNS          uint64 // traffic on port 53 whose header is not plausibly DNS
	Truncated       uint64 // DNS message cut short
	Malformed       uint64 // DNS message that is otherwise invalid
	CompressionLoop uint64 // DNS name compression pointers that recurse too deep
	NameTooLong     uint64 // DNS name longer than 255 octets (often a pointer loop through labels)
	BadName         uint64 // name with bytes outside printable ASCII, dropped
	TooManyNames    uint64 // names beyond the per-message limit, dropped
	TCPGap          uint64 // DNS over TCP stream with missing bytes; buffered data dropped
	TCPEvicted      uint64 // DNS over TCP flows evicted to stay within bounds
	FragEvicted     uint64 // IP fragment sets evicted (table full, too old, or too large)
	FragInvalid     uint64 // fragments that overlap inconsistently or exceed 64 KiB
	TLSGap          uint64 // ClientHello over TCP with missing bytes; buffered start dropped
	TLSEvicted      uint64 // unfinished ClientHellos over TCP dropped: table full, too old, or a new connection
	QUICEvicted     uint64 // unfinished QUIC ClientHellos dropped: table full, too old, or over 16 KiB
}

// Total is the sum of all error counters.
func (e ErrorCounts) Total() uint64 {
	return e.Link + e.NotDNS + e.Truncated + e.Malformed + e.CompressionLoop + e.NameTooLong +
		e.BadName + e.TooManyNames + e.TCPGap + e.TCPEvicted + e.FragEvicted + e.FragInvalid +
		e.TLSGap + e.TLSEvicted + e.QUICEvicted
}

func (s *Stats) add(o Stats) {
	s.Packets += o.Packets
	s.DNSMessages += o.DNSMessages
	s.Names += o.Names
	s.SNINames += o.SNINames
	s.Reassembled += o.Reassembled
	s.SNIReassembled += o.SNIReassembled
	s.Dropped += o.Dropped
	e, f := &s.Errors, o.Errors
	e.Link += f.Link
	e.NotDNS += f.NotDNS
	e.Truncated += f.Truncated
	e.Malformed += f.Malformed
	e.CompressionLoop += f.CompressionLoop
	e.NameTooLong += f.NameTooLong
	e.BadName += f.BadName
	e.TooManyNames += f.TooManyNames
	e.TCPGap += f.TCPGap
	e.TCPEvicted += f.TCPEvicted
	e.FragEvicted += f.FragEvicted
	e.FragInvalid += f.FragInvalid
	e.TLSGap += f.TLSGap
	e.TLSEvicted += f.TLSEvicted
	e.QUICEvicted += f.QUICEvicted
}
