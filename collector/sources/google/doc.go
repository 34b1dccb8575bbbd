// Package google imports Google Workspace's view of the SaaS a company
// uses: the OAuth grants people give to apps (Reports API token audit
// events, and the Directory API's current tokens per user), and the SAML
// apps Google signs people into (Reports API saml login events), which
// are then inside Google as an IdP. Admins without API access import the
// same data from saved API responses and Admin console CSV exports
// (NewFileImporter).
//
// The API importer acts as an admin through a service account with
// domain-wide delegation of read-only scopes, reads the Reports API in
// day-long windows oldest first and checkpoints each window once its
// evidence is stored, so a long backfill resumes where it stopped. The
// Directory token sweep costs one call per user, so it runs only when the
// last completed sweep (a checkpoint too) is older than the configured
// interval.
package google
