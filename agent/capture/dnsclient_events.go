package capture

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// On Windows the agent reads the DNS-Client operational event log instead of
// packets: it needs no capture driver, and it sees lookups that never reach
// the wire in clear (DNS over HTTPS by the system resolver, cached
// answers). The channel is disabled by default; Live enables it. This file
// has no build tag so the parsing is tested and fuzzed on every OS.
const (
	dnsClientChannel = "Microsoft-Windows-DNS-Client/Operational"
	// dnsClientQuery selects the events with names: 3006 (a query
	// starts: QueryName) and 3008 (a query completed: QueryName and
	// QueryResults, which lists CNAME targets).
	dnsClientQuery = "*[System[(EventID=3006 or EventID=3008)]]"

	dnsClientQueryStart     = 3006
	dnsClientQueryCompleted = 3008
)

// dnsTypeCNAME is the record type number of a CNAME in QueryResults.
const dnsTypeCNAME = 5

// maxDNSClientEventLen bounds the rendered XML of one event the decoder
// accepts; real DNS-Client events are about 1-2 KB.
const maxDNSClientEventLen = 64 << 10

var errNotDNSClientEvent = errors.New("not a DNS-Client query event")

// dnsClientEvent is what the agent keeps of a DNS-Client event: the names,
// never the process, addresses or anything else in it.
type dnsClientEvent struct {
	ID        uint32
	Time      time.Time // zero when the event has no valid time
	QueryName string
	// CNAMEs are the CNAME targets listed in the results of event 3008.
	CNAMEs []string
}

// eventXML is the part of a rendered event (EvtRenderEventXml) that is
// read; encoding/xml skips the rest.
type eventXML struct {
	System struct {
		EventID     string `xml:"EventID"`
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
	} `xml:"System"`
	Data []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"EventData>Data"`
}

// parseDNSClientEvent parses the rendered XML of a DNS-Client event 3006 or
// 3008. Other events are errNotDNSClientEvent.
func parseDNSClientEvent(text []byte) (dnsClientEvent, error) {
	if len(text) > maxDNSClientEventLen {
		return dnsClientEvent{}, fmt.Errorf("capture: DNS-Client event of %d bytes is too long", len(text))
	}
	var raw eventXML
	dec := xml.NewDecoder(bytes.NewReader(text))
	// The agent renders events as UTF-16 and converts them before parsing,
	// so a declaration naming UTF-16 describes the original, not text.
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-16") {
			return input, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	if err := dec.Decode(&raw); err != nil {
		return dnsClientEvent{}, fmt.Errorf("capture: DNS-Client event: %w", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(raw.System.EventID), 10, 16)
	if err != nil {
		return dnsClientEvent{}, fmt.Errorf("capture: DNS-Client event ID %q: %w", raw.System.EventID, errNotDNSClientEvent)
	}
	ev := dnsClientEvent{ID: uint32(id)}
	if ev.ID != dnsClientQueryStart && ev.ID != dnsClientQueryCompleted {
		return dnsClientEvent{}, fmt.Errorf("capture: DNS-Client event %d: %w", ev.ID, errNotDNSClientEvent)
	}
	if ts, err := time.Parse(time.RFC3339Nano, raw.System.TimeCreated.SystemTime); err == nil {
		ev.Time = ts
	}
	var results string
	for _, d := range raw.Data {
		switch d.Name {
		case "QueryName":
			ev.QueryName = strings.TrimSpace(d.Value)
		case "QueryResults":
			results = d.Value
		}
	}
	if ev.QueryName == "" {
		return dnsClientEvent{}, fmt.Errorf("capture: DNS-Client event %d without QueryName: %w", ev.ID, errNotDNSClientEvent)
	}
	if ev.ID == dnsClientQueryCompleted {
		ev.CNAMEs = cnameTargets(results)
	}
	return ev, nil
}

// cnameTargets returns the CNAME targets of a QueryResults value, at most
// maxNamesPerMessage. The value lists the answer records separated by ';':
// addresses as text ("192.0.2.1", "::ffff:192.0.2.1") and other records as
// "type:  <number> <data>", so "type:  5 acme.zendesk.com" is a CNAME.
func cnameTargets(results string) []string {
	var out []string
	for entry := range strings.SplitSeq(results, ";") {
		fields := strings.Fields(entry)
		if len(fields) != 3 || fields[0] != "type:" || fields[1] != strconv.Itoa(dnsTypeCNAME) {
			continue
		}
		if len(out) == maxNamesPerMessage {
			break
		}
		out = append(out, fields[2])
	}
	return out
}

// dnsClientDecoder turns rendered DNS-Client events into observations, as
// Decoder does packets. It is not safe for concurrent use.
type dnsClientDecoder struct {
	names internTable
	// msgNames holds the names emitted for the current event, so that a
	// CNAME target equal to the query name is emitted once.
	msgNames []string
	stats    Stats
}

func newDNSClientDecoder() *dnsClientDecoder {
	return &dnsClientDecoder{names: newInternTable(defaultMaxInternedNames)}
}

// Stats returns a copy of the counters. Each event counts as a packet, and
// each event with a name as a DNS message.
func (d *dnsClientDecoder) Stats() Stats { return d.stats }

// decode decodes one rendered event and emits its query name and CNAME
// targets with Source SourceDNS, at the event's time or, when it has none,
// at now. Events that are not query events, or do not parse, are counted.
func (d *dnsClientDecoder) decode(text []byte, now time.Time, emit func(Observation)) {
	d.stats.Packets++
	ev, err := parseDNSClientEvent(text)
	switch {
	case errors.Is(err, errNotDNSClientEvent):
		d.stats.Errors.NotDNS++
		return
	case err != nil:
		d.stats.Errors.Malformed++
		return
	}
	d.stats.DNSMessages++
	ts := ev.Time
	if ts.IsZero() {
		ts = now
	}
	d.msgNames = d.msgNames[:0]
	d.emit(ev.QueryName, ts, emit)
	for _, target := range ev.CNAMEs {
		d.emit(target, ts, emit)
	}
}

func (d *dnsClientDecoder) emit(raw string, ts time.Time, emit func(Observation)) {
	name, ok := normalizeName(&d.names, raw)
	if !ok {
		d.stats.Errors.BadName++
		return
	}
	if !firstInMessage(&d.msgNames, name) {
		return
	}
	d.stats.Names++
	emit(Observation{Time: ts, Name: name, Source: SourceDNS})
}

// channelEnabled reads the output of `wevtutil gl <channel>` and reports
// whether the channel is enabled.
func channelEnabled(output string) (bool, error) {
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "enabled" {
			return strconv.ParseBool(strings.TrimSpace(value))
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, errors.New("capture: wevtutil output has no \"enabled\" line")
}
