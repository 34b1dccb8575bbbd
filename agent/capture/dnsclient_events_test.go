package capture

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/internal/golden"
)

func TestDNSClientEvents(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	tests := []struct {
		file      string
		wantNames []string
		wantTime  time.Time
		want      Stats
	}{
		{
			file:      "3006-query-start.xml",
			wantNames: []string{"acme.slack.com"},
			wantTime:  at("2026-11-25T09:14:07.4417381Z"),
			want:      Stats{Packets: 1, DNSMessages: 1, Names: 1},
		},
		{
			file:      "3008-cname-chain.xml",
			wantNames: []string{"support.customer.example", "acme.zendesk.com", "zendesk.map.fastly.net"},
			wantTime:  at("2026-11-25T09:14:07.5120533Z"),
			want:      Stats{Packets: 1, DNSMessages: 1, Names: 3},
		},
		{
			file:      "3008-addresses-only.xml",
			wantNames: []string{"app.notion.so"},
			wantTime:  at("2026-11-25T09:15:41.0031007Z"),
			want:      Stats{Packets: 1, DNSMessages: 1, Names: 1},
		},
		{
			// A failed lookup still shows what was looked up.
			file:      "3008-nxdomain.xml",
			wantNames: []string{"no-such-tenant.atlassian.net"},
			wantTime:  at("2026-11-25T09:16:02.7781234Z"),
			want:      Stats{Packets: 1, DNSMessages: 1, Names: 1},
		},
		{
			// The CNAME equal to the query name is emitted once; a target
			// with a space and a PTR record are not CNAME targets.
			file:      "3008-odd-results.xml",
			wantNames: []string{"www.figma.com"},
			wantTime:  at("2026-11-25T09:17:11.1Z"),
			want:      Stats{Packets: 1, DNSMessages: 1, Names: 1},
		},
		{file: "3020-other-event.xml", want: Stats{Packets: 1, Errors: ErrorCounts{NotDNS: 1}}},
		{file: "3006-no-name.xml", want: Stats{Packets: 1, Errors: ErrorCounts{NotDNS: 1}}},
		{file: "truncated.xml", want: Stats{Packets: 1, Errors: ErrorCounts{Malformed: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", "dnsclient", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			d := newDNSClientDecoder()
			var got []string
			d.decode(text, now, func(o Observation) {
				checkObservation(t, o)
				if o.Source != SourceDNS {
					t.Errorf("source = %q, want %q", o.Source, SourceDNS)
				}
				if !o.Time.Equal(tt.wantTime) {
					t.Errorf("time = %v, want %v", o.Time, tt.wantTime)
				}
				got = append(got, o.Name)
			})
			if !slices.Equal(got, tt.wantNames) {
				t.Errorf("names = %q, want %q", got, tt.wantNames)
			}
			if d.Stats() != tt.want {
				t.Errorf("stats = %+v, want %+v", d.Stats(), tt.want)
			}
		})
	}
}

func TestDNSClientEventTimeFallback(t *testing.T) {
	const text = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
<System><EventID Qualifiers="0"> 3006 </EventID></System>
<EventData><Data Name="QueryName">acme.slack.com</Data></EventData></Event>`
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var got []Observation
	newDNSClientDecoder().decode([]byte(text), now, func(o Observation) { got = append(got, o) })
	if len(got) != 1 || got[0].Name != "acme.slack.com" || !got[0].Time.Equal(now) {
		t.Errorf("observations = %+v, want acme.slack.com at %v", got, now)
	}
}

func TestDNSClientEventUTF16Declaration(t *testing.T) {
	const text = `<?xml version="1.0" encoding="UTF-16"?><Event><System><EventID>3006</EventID></System>` +
		`<EventData><Data Name="QueryName">acme.slack.com</Data></EventData></Event>`
	ev, err := parseDNSClientEvent([]byte(text))
	if err != nil || ev.QueryName != "acme.slack.com" {
		t.Errorf("parse = %+v, %v", ev, err)
	}
}

func TestCNAMETargets(t *testing.T) {
	tests := []struct {
		results string
		want    []string
	}{
		{"", nil},
		{"::ffff:192.0.2.1;", nil},
		{"type:  5 a.example.com;type:  5 b.example.net;192.0.2.1;", []string{"a.example.com", "b.example.net"}},
		{"type: 5 a.example.com", []string{"a.example.com"}},
		{"type:  28 2001:db8::1;type:  15 mx.example.com", nil},
		{"type:  5;type:  5 a b;type 5 c.example", nil},
		{strings.Repeat("type:  5 x.example;", 100), slices.Repeat([]string{"x.example"}, maxNamesPerMessage)},
	}
	for _, tt := range tests {
		if got := cnameTargets(tt.results); !slices.Equal(got, tt.want) {
			t.Errorf("cnameTargets(%q) = %q, want %q", tt.results, got, tt.want)
		}
	}
}

func TestChannelEnabled(t *testing.T) {
	tests := []struct {
		output  string
		want    bool
		wantErr bool
	}{
		{"name: Microsoft-Windows-DNS-Client/Operational\r\nenabled: false\r\ntype: Operational\r\n", false, false},
		{"name: Microsoft-Windows-DNS-Client/Operational\nenabled: true\nlogging:\n  retention: false\n", true, false},
		{"name: x\n", false, true},
		{"enabled: maybe\n", false, true},
	}
	for _, tt := range tests {
		got, err := channelEnabled(tt.output)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("channelEnabled(%q) = %v, %v; want %v, error %v", tt.output, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzDNSClientEvent(f *testing.F) {
	for _, seed := range dnsClientSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		d := newDNSClientDecoder()
		d.decode(text, time.Unix(0, 0), func(o Observation) { checkObservation(t, o) })
		st := d.Stats()
		if st.Packets != 1 || st.DNSMessages+st.Errors.NotDNS+st.Errors.Malformed != 1 {
			t.Fatalf("stats = %+v: every event is a message or an error", st)
		}
		if st.Names > 1+maxNamesPerMessage {
			t.Fatalf("%d names from one event", st.Names)
		}
	})
}

func dnsClientSeeds(tb testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "dnsclient", "*.xml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no DNS-Client testdata: %v", err)
	}
	var seeds [][]byte
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, text)
	}
	return seeds
}

// TestWriteDNSClientSeeds rewrites testdata/fuzz/FuzzDNSClientEvent with
// -update.
func TestWriteDNSClientSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	writeSeeds(t, "FuzzDNSClientEvent", dnsClientSeeds(t))
}
