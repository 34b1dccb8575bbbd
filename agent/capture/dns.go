package capture

import (
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// maxPlausibleQuestions bounds the question count of something we are
// willing to call DNS; real messages carry one question.
const maxPlausibleQuestions = 8

// maxNamesPerMessage bounds the names taken from one message. Real CNAME
// chains are a handful of names long; a crafted 64 KiB message over TCP
// could hold thousands, and each costs a duplicate check.
const maxNamesPerMessage = 32

// handleDNSMessage decodes one DNS message (without the TCP length prefix)
// and emits its names: the question names and, in responses, the owner and
// target of every CNAME record, so both ends of customer.zendesk.com ->
// acme.zendesk.com are seen.
func (d *Decoder) handleDNSMessage(msg []byte, ts time.Time, emit func(Observation)) {
	if err := d.dns.DecodeFromBytes(msg, gopacket.NilDecodeFeedback); err != nil {
		d.countDNSError(msg, err)
		return
	}
	d.stats.DNSMessages++
	d.msgNames = d.msgNames[:0]
	for i := range d.dns.Questions {
		d.emitDNSName(d.dns.Questions[i].Name, ts, emit)
	}
	if !d.dns.QR {
		return
	}
	for i := range d.dns.Answers {
		rr := &d.dns.Answers[i]
		if rr.Type == layers.DNSTypeCNAME && rr.Class == layers.DNSClassIN {
			d.emitDNSName(rr.Name, ts, emit)
			d.emitDNSName(rr.CNAME, ts, emit)
		}
	}
}

func (d *Decoder) emitDNSName(raw []byte, ts time.Time, emit func(Observation)) {
	if len(raw) == 0 { // the root, e.g. in a priming query
		return
	}
	name, ok := normalizeName(&d.names, raw)
	if !ok {
		d.stats.Errors.BadName++
		return
	}
	if len(d.msgNames) >= maxNamesPerMessage {
		d.stats.Errors.TooManyNames++
		return
	}
	if !firstInMessage(&d.msgNames, name) {
		return
	}
	d.stats.Names++
	emit(Observation{Time: ts, Name: name, Source: SourceDNS})
}

// firstInMessage adds name to the names already emitted for the current
// message (msgNames) and reports whether it was not among them, so a CNAME
// target equal to the query name, or repeated, is emitted once.
func firstInMessage(msgNames *[]string, name string) bool {
	if slices.Contains(*msgNames, name) {
		return false
	}
	*msgNames = append(*msgNames, name)
	return true
}

// countDNSError sorts a DNS decode failure into a kind. gopacket's errors
// are not exported, so the kind is told by the message text; anything not
// recognised is Malformed.
func (d *Decoder) countDNSError(msg []byte, err error) {
	e := &d.stats.Errors
	if !plausibleDNSHeader(msg) {
		e.NotDNS++
		return
	}
	switch err.Error() {
	case "max DNS recursion level hit":
		e.CompressionLoop++
	case "dns name is too long":
		e.NameTooLong++
	case "DNS packet too short",
		"dns name offset too high",
		"dns name uncomputable: invalid index",
		"dns offset pointer too high",
		"dns index walked out of range",
		"DNS question too small",
		"DNS record too small",
		"resource record length exceeds data":
		e.Truncated++
	default:
		e.Malformed++
	}
}

// plausibleDNSHeader reports whether msg starts like a DNS message: a
// header with a defined opcode and a small question count. Random bytes and
// other protocols on port 53 almost never pass. A too-short message still
// counts as plausible so that it is reported as truncated.
func plausibleDNSHeader(msg []byte) bool {
	if len(msg) < 12 {
		return len(msg) >= 2
	}
	opcode := msg[2] >> 3 & 0x0f
	if opcode == 3 || opcode > 6 { // 3 is unassigned; 7-15 are unassigned
		return false
	}
	questions := int(msg[4])<<8 | int(msg[5])
	return questions <= maxPlausibleQuestions
}

// internTable lowercases names and hands out one string per distinct name,
// so a name seen again costs no allocation. It is bounded: when full it is
// emptied and refilled, which keeps memory flat at the price of some
// allocations after each reset.
type internTable struct {
	max     int
	strings map[string]string
	scratch [256]byte
}

const defaultMaxInternedNames = 8192

func newInternTable(maxNames int) internTable {
	return internTable{max: maxNames, strings: make(map[string]string, maxNames)}
}

// normalizeName returns raw lowercased without a trailing dot. It rejects empty
// names, names over 255 octets and names with bytes outside printable ASCII
// (spaces and control characters included): no real host name has them.
func normalizeName[T ~string | ~[]byte](t *internTable, raw T) (string, bool) {
	for len(raw) > 0 && raw[len(raw)-1] == '.' {
		raw = raw[:len(raw)-1]
	}
	if len(raw) == 0 || len(raw) > len(t.scratch) {
		return "", false
	}
	buf := t.scratch[:len(raw)]
	for i := range len(raw) {
		c := raw[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c <= ' ' || c >= 0x7f:
			return "", false
		}
		buf[i] = c
	}
	if s, ok := t.strings[string(buf)]; ok {
		return s, true
	}
	if len(t.strings) >= t.max {
		clear(t.strings)
	}
	s := string(buf)
	t.strings[s] = s
	return s, true
}
