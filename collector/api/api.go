// Package api holds the wire types between the endpoint agent and the
// collector, the rules for decoding them safely, and a small client the
// agent uses. The agent imports this package and nothing else of the
// collector.
package api

import (
	"time"
)

// The agent API paths.
const (
	PathEnroll    = "/api/v1/enroll"
	PathSightings = "/api/v1/sightings"
	PathHeartbeat = "/api/v1/heartbeat"
	PathCatalog   = "/api/v1/catalog"
)

// Limits on what an agent may send. The collector enforces them; the agent
// keeps its batches under them.
const (
	// MaxBatchBytes caps a sightings body after gzip decompression.
	MaxBatchBytes = 4 << 20
	// MaxCompressedBytes caps a sightings body as it arrives.
	MaxCompressedBytes = 1 << 20
	// MaxSightings caps the sightings in one batch.
	MaxSightings = 5000
	// MaxUnknownDomains caps the unknown-domain counts in one batch.
	MaxUnknownDomains = 5000
	// MaxSmallBody caps enroll and heartbeat bodies.
	MaxSmallBody = 64 << 10
	// MaxClockSkew is how far in the future a sighting may claim to be.
	MaxClockSkew = 24 * time.Hour
	// MaxSightingAge is how old a sighting may be: an agent offline for
	// a month still uploads its spool, anything older is refused.
	MaxSightingAge = 35 * 24 * time.Hour
)

// EnrollRequest is what a new agent sends once, with the enroll secret the
// MDM profile gave it.
type EnrollRequest struct {
	EnrollSecret string `json:"enroll_secret"`
	Hostname     string `json:"hostname"`
	OS           string `json:"os"`
	OSVersion    string `json:"os_version,omitempty"`
	Arch         string `json:"arch,omitempty"`
	AgentVersion string `json:"agent_version"`
	// OwnerEmail is set by MDM when it knows who owns the device.
	OwnerEmail string `json:"owner_email,omitempty"`
	// User is the OS account logged in at enrollment.
	User string `json:"user,omitempty"`
}

// EnrollResponse carries the device's credentials. The token is shown
// once: the collector keeps only its hash.
type EnrollResponse struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

// SightingsBatch is one upload: daily aggregates of matched apps and,
// when the agent's opt-in unknown-domain telemetry is on, daily counts of
// registrable domains that matched no app.
type SightingsBatch struct {
	// BatchID is chosen by the agent and kept across retries, so a batch
	// sent twice is stored once.
	BatchID      string     `json:"batch_id"`
	AgentVersion string     `json:"agent_version"`
	Sightings    []Sighting `json:"sightings"`
	// UnknownDomains is left out unless the telemetry is on, so a batch
	// without it is what agents sent before the field existed.
	UnknownDomains []UnknownDomain `json:"unknown_domains,omitempty"`
}

// UnknownDomain is the opt-in telemetry of one registrable domain that
// matched no catalog app (and is not noise): how many lookups the device
// made on one UTC day. Domain and count only: no user, no full name, no
// tenant, no times of day.
type UnknownDomain struct {
	Domain string `json:"domain"` // registrable domain, lowercase: example.co.uk
	Day    string `json:"day"`    // YYYY-MM-DD, UTC
	Count  int64  `json:"count"`
}

// Sighting is one (app, domain, tenant, user, day) aggregate. It names a
// catalog app and the catalog domain that matched, never the full name.
type Sighting struct {
	App    string `json:"app"`
	Domain string `json:"domain"`
	Tenant string `json:"tenant,omitempty"`
	// Source is dns or sni.
	Source string `json:"source"`
	// User is the OS account that made the lookups, when known.
	User      string    `json:"user,omitempty"`
	Day       string    `json:"day"` // YYYY-MM-DD, UTC
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// SightingsResponse acknowledges a batch. Duplicate is set when the batch
// was already stored: the agent may drop it from its spool either way.
type SightingsResponse struct {
	Accepted  int  `json:"accepted"`
	Duplicate bool `json:"duplicate"`
}

// Heartbeat is the agent's health report.
type Heartbeat struct {
	AgentVersion string `json:"agent_version"`
	CaptureState string `json:"capture_state"` // running, degraded, stopped, not_permitted
	PacketsSeen  uint64 `json:"packets_seen"`
	Drops        uint64 `json:"drops"`
	SpoolDepth   int64  `json:"spool_depth"`
	LastError    string `json:"last_error,omitempty"`
	User         string `json:"user,omitempty"`
	// Interfaces are the network interfaces being captured ("any" for
	// all of them on Linux, "dns-client" for the Windows event log).
	Interfaces []string `json:"interfaces,omitempty"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error string `json:"error"`
	// Code is stable for programs: bad_request, unauthorized, forbidden,
	// not_found, too_large, rate_limited, conflict, internal.
	Code string `json:"code"`
}
