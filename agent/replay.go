package agent

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/capture"
	"github.com/shadowmap/shadowmap/agent/capture/sni"
	"github.com/shadowmap/shadowmap/signatures"
)

// SNI reads the server name from a TLS ClientHello (TCP) or a QUIC
// Initial packet (UDP): the capture decoder's SNI hook.
func SNI(payload []byte, quic bool) (string, bool) {
	if quic {
		return sni.FromQUIC(payload)
	}
	return sni.FromTLS(payload)
}

// ReplayReport is what the agent's pipeline made of a capture.
type ReplayReport struct {
	Capture capture.Stats   `json:"capture"`
	Match   aggregate.Stats `json:"match"`
	Apps    []AppCount      `json:"apps"`
}

// AppCount is one app found in a capture.
type AppCount struct {
	App       string    `json:"app"`
	Name      string    `json:"name"`
	Count     int64     `json:"count"`
	DNS       int64     `json:"dns"`
	SNI       int64     `json:"sni"`
	Domains   []string  `json:"domains"`
	Tenants   []string  `json:"tenants,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Replay runs the agent's pipeline over a pcap or pcapng capture: decode
// DNS and TLS/QUIC server names, match them against the catalog on the
// spot, and count the apps. Nothing leaves the process.
func Replay(r io.Reader, c *signatures.Catalog, user string) (ReplayReport, error) {
	agg := aggregate.New(c)
	stats, err := capture.ReadPcapWith(r, SNI, func(o capture.Observation) {
		src := aggregate.SourceDNS
		if o.Source == capture.SourceSNI {
			src = aggregate.SourceSNI
		}
		agg.Observe(o.Name, src, user, o.Time)
	})
	rep := ReplayReport{Capture: stats, Match: agg.Stats()}
	byApp := map[string]*AppCount{}
	for _, s := range agg.Flush() {
		a := byApp[s.App]
		if a == nil {
			name := s.App
			if app := c.App(s.App); app != nil {
				name = app.Name
			}
			a = &AppCount{App: s.App, Name: name, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen}
			byApp[s.App] = a
		}
		a.Count += s.Count
		if s.Source == "sni" {
			a.SNI += s.Count
		} else {
			a.DNS += s.Count
		}
		a.Domains = appendUnique(a.Domains, s.Domain)
		if s.Tenant != "" {
			a.Tenants = appendUnique(a.Tenants, s.Tenant)
		}
		if s.FirstSeen.Before(a.FirstSeen) {
			a.FirstSeen = s.FirstSeen
		}
		if s.LastSeen.After(a.LastSeen) {
			a.LastSeen = s.LastSeen
		}
	}
	for _, a := range byApp {
		sort.Strings(a.Domains)
		sort.Strings(a.Tenants)
		rep.Apps = append(rep.Apps, *a)
	}
	sort.Slice(rep.Apps, func(i, j int) bool {
		if rep.Apps[i].Count != rep.Apps[j].Count {
			return rep.Apps[i].Count > rep.Apps[j].Count
		}
		return rep.Apps[i].App < rep.Apps[j].App
	})
	if err != nil {
		return rep, fmt.Errorf("replay: %w", err)
	}
	return rep, nil
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}
