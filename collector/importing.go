package collector

import (
	"context"
	"time"
)

// This file holds the domain types and store interfaces of the importers
// (collector/sources): their checkpoints and run history, the IdPs' app
// lists, and the OAuth grants as they stand now.

// CheckpointStore keeps each importer's place, so every event is read
// once: a source stores an opaque value per key (a cursor, the time of
// the last event read) after the evidence it covers is stored. A crash in
// between reads some events twice, and evidence dedupe keys make that
// harmless.
type CheckpointStore interface {
	// Checkpoint returns the value stored for (source, key); ok is false
	// when there is none.
	Checkpoint(ctx context.Context, source, key string) (value string, ok bool, err error)
	SetCheckpoint(ctx context.Context, source, key, value string) error
}

// SourceRun is one run of an importer.
type SourceRun struct {
	Source     string // google, okta, entra, dnszone, mail
	StartedAt  time.Time
	FinishedAt time.Time
	// Events is how many events, records or rows the run read; Imported
	// how many evidence rows were new.
	Events   int64
	Imported int64
	// Skipped counts, by reason, what the run read but could not use (a
	// message too large or not readable as MIME), without failing.
	Skipped map[string]int64
	// Error is why the run failed, "" when it succeeded.
	Error string
}

// SourceHealth is what IT sees of an importer: when it last ran, when it
// last worked, and why it failed if it did.
type SourceHealth struct {
	Source      string
	LastRun     time.Time
	LastSuccess time.Time
	LastError   string // of the last run; "" when it succeeded
	// LastEvents and LastImported are the last run's counts.
	LastEvents   int64
	LastImported int64
	// LastSkipped is the last run's skipped records by reason.
	LastSkipped map[string]int64
	// TotalImported sums Imported over every run.
	TotalImported int64
	Runs          int64
	Failures      int64 // failed runs in a row, 0 after a success
}

// SourceRunStore keeps importer runs.
type SourceRunStore interface {
	RecordSourceRun(ctx context.Context, r SourceRun) error
	// SourceHealth returns one entry per source that ever ran, sorted by
	// source.
	SourceHealth(ctx context.Context) ([]SourceHealth, error)
}

// IdPApp is an application configured in an identity provider: an Okta
// app, an Entra enterprise app (service principal), a SAML app Google
// signs people into.
type IdPApp struct {
	IdP string // okta, entra, google_workspace
	// ExternalID is the IdP's id for the app: Okta's app id, Entra's
	// appId, Google's SAML app name.
	ExternalID string
	Name       string // the label IT gave it in the IdP
	// Protocol is how the IdP signs people in: saml, oidc, swa
	// (password vaulting), ws_fed, bookmark, or "" when unknown.
	Protocol string
	// Provisioning is true when the IdP provisions accounts into the
	// app (SCIM or an API connector).
	Provisioning bool
	Active       bool
	// URLs are the sign-on, reply and entity URLs the IdP holds for the
	// app; the mapping to a catalog app reads their hosts.
	URLs []string
	// AppID is the catalog app the IdP app is, "" when unmapped.
	AppID string
	// MappedBy says how AppID was found: domain, oauth_client, name,
	// alias, or manual (IT set it; an import never changes it).
	MappedBy string
	SeenAt   time.Time
}

// IdPAppStore keeps the IdPs' app lists. An app mapped to a catalog app
// makes that app "inside the IdP" in the inventory.
type IdPAppStore interface {
	// ReplaceIdPApps makes apps the whole list of idp's apps, as read at
	// at: apps no longer listed are removed. A manual mapping of an app
	// that stays listed is kept, whatever the import mapped.
	ReplaceIdPApps(ctx context.Context, idp string, apps []IdPApp, at time.Time) error
	// AddIdPApps adds or refreshes apps without removing others, for
	// sources that only see apps in use (Google's SAML login events).
	AddIdPApps(ctx context.Context, apps []IdPApp) error
	IdPApps(ctx context.Context) ([]IdPApp, error)
	// MapIdPApp sets the catalog app of an IdP app by hand ("" clears the
	// manual mapping, so the next import maps it again). ErrNotFound when
	// the IdP app is not stored.
	MapIdPApp(ctx context.Context, idp, externalID, appID string) error
}

// OAuthGrant is an OAuth grant as it stands: a person let a client read
// their account. Importers keep it current from grant and revoke events
// and from token listings, so a revoked grant stops counting.
type OAuthGrant struct {
	Provider string // google, microsoft
	Person   string // lowercase email
	ClientID string
	// AppID is the catalog app, "" for an app the catalog does not know
	// (a candidate app, listed by name and client id).
	AppID  string
	Name   string // the client's display name
	Scopes []string
	// GrantedAt is the first time the grant was seen; RevokedAt is zero
	// while the grant stands.
	GrantedAt time.Time
	RevokedAt time.Time
	SeenAt    time.Time
}

// OAuthCandidate is an OAuth client the catalog does not know, as seen
// across the company's current grants: a lead for a new catalog entry or
// a shadow app on its own.
type OAuthCandidate struct {
	Provider string
	ClientID string
	Name     string
	People   int
	// Scopes are every scope granted to the client by anyone.
	Scopes    []string
	FirstSeen time.Time
	LastSeen  time.Time
}

// GrantStore keeps the current OAuth grants.
type GrantStore interface {
	// UpsertGrants records grants seen (a grant event, a token listing):
	// new ones are added, known ones get the new scopes and SeenAt and are
	// no longer revoked.
	UpsertGrants(ctx context.Context, grants []OAuthGrant) error
	// RevokeGrant marks a person's grant to a client revoked at at; a
	// grant not stored is ignored.
	RevokeGrant(ctx context.Context, provider, person, clientID string, at time.Time) error
	// ReplacePersonGrants makes grants the person's whole set of current
	// grants at the provider: stored grants not in it are revoked at at.
	ReplacePersonGrants(ctx context.Context, provider, person string, grants []OAuthGrant, at time.Time) error
	// CurrentGrants lists the grants that stand (not revoked).
	CurrentGrants(ctx context.Context) ([]OAuthGrant, error)
	// OAuthCandidates lists current grants' clients with no catalog app,
	// most people first.
	OAuthCandidates(ctx context.Context) ([]OAuthCandidate, error)
}
