package collector

import (
	"context"
	"errors"
	"time"
)

// This file holds the collector's domain types and the small store
// interfaces, one per aggregate, that the server, importers and inventory
// consume. The SQLite store (collector/store/sqlite) implements them all;
// a PostgreSQL store will too, and collector/store/storetest holds the
// contract tests every implementation must pass.

// ErrNotFound is returned by stores when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// Source says how a piece of evidence was seen.
type Source string

// The evidence sources.
const (
	SourceDNS         Source = "dns"          // agent: a DNS lookup
	SourceSNI         Source = "sni"          // agent: a TLS or QUIC server name
	SourceOAuthGrant  Source = "oauth_grant"  // Google/Microsoft OAuth grant to the app
	SourceSSOLogin    Source = "sso_login"    // a sign-in through the IdP
	SourceIdPApp      Source = "idp_app"      // the app is configured in the IdP
	SourceInvoice     Source = "invoice"      // an invoice or receipt mail
	SourceSignupEmail Source = "signup_email" // a sign-up or welcome mail
	SourceDNSTXT      Source = "dns_txt"      // a domain-verification TXT record in the company zone
	SourceManual      Source = "manual"       // entered by IT
)

// Sources lists every evidence source.
func Sources() []Source {
	return []Source{SourceDNS, SourceSNI, SourceOAuthGrant, SourceSSOLogin, SourceIdPApp, SourceInvoice, SourceSignupEmail, SourceDNSTXT, SourceManual}
}

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	for _, v := range Sources() {
		if s == v {
			return true
		}
	}
	return false
}

// IsUsage reports whether evidence from s shows someone using the app, as
// opposed to paying for it, being set up in the IdP, or a TXT record.
func (s Source) IsUsage() bool {
	switch s {
	case SourceDNS, SourceSNI, SourceOAuthGrant, SourceSSOLogin, SourceSignupEmail:
		return true
	}
	return false
}

// Evidence is one observation of an app. Agent sightings are daily
// aggregates (one row per device, app, domain, tenant, user and day, with a
// count); importer rows are single events. Each row carries a dedupe key:
// the same key stored twice is one row.
type Evidence struct {
	AppID    string
	Source   Source
	Person   string // lowercase email; "" when unknown
	DeviceID string // agent evidence only
	// Day is the UTC day the evidence is about, YYYY-MM-DD.
	Day       string
	FirstSeen time.Time
	LastSeen  time.Time
	Count     int64
	Domain    string // the catalog domain that matched (slack.com), never a full name
	Tenant    string // acme in acme.slack.com
	// Detail is a short, source-specific note: the OAuth scopes granted,
	// the mailbox and subject of an invoice, the IdP of an SSO login.
	Detail string
	// AmountCents and Currency are set on invoices and receipts.
	AmountCents int64
	Currency    string
	DedupeKey   string
}

// Batch is one upload from an agent. It is stored exactly once per
// (device, batch id): a replay is acknowledged and ignored.
type Batch struct {
	DeviceID     string
	BatchID      string
	AgentVersion string
	ReceivedAt   time.Time
	Evidence     []Evidence
	// UnknownDomains is the agent's opt-in unknown-domain telemetry,
	// stored in the same transaction as the evidence.
	UnknownDomains []UnknownDomainCount
}

// UnknownDomainCount is how many lookups of a registrable domain that
// matched no app a device made on a UTC day. It is kept per device only
// so that distinct devices can be counted: it is never shown per device,
// and a domain is shown at all only once k devices saw it.
type UnknownDomainCount struct {
	Domain string // registrable domain, lowercase
	Day    string // YYYY-MM-DD, UTC
	Count  int64
}

// Device is an enrolled endpoint agent.
type Device struct {
	ID           string
	Hostname     string
	OS           string // darwin, windows, linux
	OSVersion    string
	Arch         string
	AgentVersion string
	// OwnerEmail is the person the MDM says owns the device.
	OwnerEmail string
	// LastUser is the OS account the agent last reported.
	LastUser string
	// EnrollSecret names the enroll secret used, so revoking a secret
	// can revoke the devices it enrolled.
	EnrollSecret string
	EnrolledAt   time.Time
	LastSeenAt   time.Time
	Revoked      bool
	Health       Health
}

// Health is what an agent reports in its heartbeat.
type Health struct {
	CaptureState string // running, degraded, stopped, not_permitted
	PacketsSeen  uint64
	Drops        uint64
	SpoolDepth   int64
	AgentVersion string
	LastError    string
	// Interfaces are the network interfaces the agent captures on.
	Interfaces []string
	ReportedAt time.Time
}

// Status is IT's decision about an app.
type Status string

// The app statuses.
const (
	StatusUnreviewed   Status = "unreviewed"
	StatusApproved     Status = "approved"
	StatusTolerated    Status = "tolerated"
	StatusNotPermitted Status = "not_permitted"
	StatusIgnored      Status = "ignored"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusUnreviewed, StatusApproved, StatusTolerated, StatusNotPermitted, StatusIgnored:
		return true
	}
	return false
}

// StatusChange is one decision, kept as history.
type StatusChange struct {
	AppID string
	From  Status
	To    Status
	By    string // who decided (an admin token's name, an email)
	Why   string
	At    time.Time
}

// AppState is what IT has recorded about an app.
type AppState struct {
	AppID  string
	Status Status
	By     string
	Why    string
	At     time.Time
	// InsideIdP names the IdP the app is configured in (okta, entra,
	// google_workspace, manual), or "" when it is outside every IdP.
	InsideIdP string
}

// AppUsage is the evidence about one app, aggregated by the store.
type AppUsage struct {
	AppID     string
	People    int // distinct people with usage evidence
	Devices   int // distinct devices
	BySource  map[Source]int64
	Tenants   []string
	FirstSeen time.Time
	LastSeen  time.Time
	// SpendCents is invoice and receipt totals per month (YYYY-MM) in
	// the currency they were paid in: month -> currency -> cents.
	SpendCents map[string]map[string]int64
}

// PersonUsage is one person and the apps they were seen using.
type PersonUsage struct {
	Email     string
	Apps      []string
	Devices   []string
	FirstSeen time.Time
	LastSeen  time.Time
}

// EvidenceFilter selects evidence rows.
type EvidenceFilter struct {
	AppID  string
	Person string
	Device string
	Source Source
	Since  time.Time
	Limit  int // 0 means a store default
}

// Retention is what a purge deletes; a zero time deletes nothing of its
// kind. Raw evidence goes first (privacy), the aggregates the inventory
// reads are kept longer, and batch records only as long as an agent could
// replay a batch.
type Retention struct {
	// Evidence: evidence rows last seen before it.
	Evidence time.Time
	// Aggregates: per-app people, devices, tenants, source counts (last
	// seen before it), spend (months before its month) and unknown-domain
	// counts (days before its UTC day).
	Aggregates time.Time
	// Batches: batch records (the idempotency memory) received before it.
	Batches time.Time
}

// DeviceStore keeps enrolled devices.
type DeviceStore interface {
	// CreateDevice stores a new device with the hash of its token.
	CreateDevice(ctx context.Context, d Device, tokenHash []byte) error
	// DeviceByTokenHash finds the device a token belongs to, revoked or
	// not; ErrNotFound when none.
	DeviceByTokenHash(ctx context.Context, tokenHash []byte) (Device, error)
	Device(ctx context.Context, id string) (Device, error)
	RecordHeartbeat(ctx context.Context, deviceID string, h Health) error
	ListDevices(ctx context.Context) ([]Device, error)
	// RevokeDevice stops a device's token from working.
	RevokeDevice(ctx context.Context, id string) error
}

// EvidenceStore keeps evidence.
type EvidenceStore interface {
	// IngestBatch stores an agent batch atomically: all its evidence or
	// none. A batch already stored for the device returns duplicate=true
	// and changes nothing. Rows with the same dedupe key are merged:
	// counts add up, first and last seen widen.
	IngestBatch(ctx context.Context, b Batch) (duplicate bool, err error)
	// AddEvidence stores importer evidence; a row whose dedupe key is
	// already stored is skipped. It returns how many rows were new.
	AddEvidence(ctx context.Context, ev []Evidence) (inserted int, err error)
	ListEvidence(ctx context.Context, f EvidenceFilter) ([]Evidence, error)
	// PurgeEvidence applies a retention policy and returns how many
	// evidence rows it deleted.
	PurgeEvidence(ctx context.Context, r Retention) (int64, error)
}

// UsageStore answers the aggregate questions the inventory asks.
type UsageStore interface {
	AppUsage(ctx context.Context) ([]AppUsage, error)
	PeopleUsage(ctx context.Context) ([]PersonUsage, error)
}

// UnknownDomainStore answers the one question the unknown-domain
// telemetry is for. Its counts are written by EvidenceStore.IngestBatch.
type UnknownDomainStore interface {
	// UnknownDomainDevices returns every unknown domain reported for a
	// UTC day on or after since's, with the number of distinct devices
	// that reported it. It never says which devices.
	UnknownDomainDevices(ctx context.Context, since time.Time) (map[string]int, error)
}

// AppStateStore keeps IT's decisions about apps.
type AppStateStore interface {
	AppStates(ctx context.Context) (map[string]AppState, error)
	// SetStatus records a decision and its history entry; From is filled
	// in by the store.
	SetStatus(ctx context.Context, c StatusChange) (StatusChange, error)
	StatusHistory(ctx context.Context, appID string) ([]StatusChange, error)
	SetInsideIdP(ctx context.Context, appID, idp string) error
}
