// Package agent is the shadowmap endpoint agent: it watches DNS lookups and
// TLS server names on a laptop, matches them against the embedded signature
// catalog, aggregates matched apps per day, spools them and uploads them to
// the collector. Its subpackages (capture, resolver, spool) are pure Go so
// the agent cross-builds for macOS, Windows and Linux.
//
// The agent never imports the collector, except for its wire types in
// collector/api.
package agent
