// Package collector is the shadowmap server: the agent ingest API, the
// store, the inventory that merges evidence into apps, the importers
// (Google Workspace, Okta, Entra ID, mailboxes, DNS zones) and the weekly
// digest. Each of those lives in a subpackage with one job.
package collector
