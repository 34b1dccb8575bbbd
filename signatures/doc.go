// Package signatures is shadowmap's app signature catalog and its matchers.
//
// The catalog is one YAML file per SaaS app (apps/*.yaml), a noise list of
// infrastructure, CDN, ad and telemetry domains that never become apps
// (noise.yaml), and a risk table for OAuth scopes and Microsoft Graph
// permissions (scopes.yaml). All three are embedded in the binary; Load
// reads the same format from any fs.FS so a checkout can be linted and a
// collector can serve an updated bundle.
//
// The matchers turn what the agent and the importers see into apps:
// MatchDomain for DNS names and TLS server names (the agent's hot path: no
// allocation for ASCII names), MatchOAuthClient for OAuth grants, and
// MatchMailSender for billing and sign-up mail; MatchTXT and MatchTXTAt for
// domain-verification TXT records.
//
// The package does no I/O besides loading and imports nothing of
// shadowmap's: both the agent and the collector depend on it.
package signatures
