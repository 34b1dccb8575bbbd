// Package sources runs the collector's importers: the code that reads an
// outside system (Google Workspace, Okta, Entra ID, the company's DNS
// zone, mailboxes) and turns what it finds into evidence, IdP app lists
// and OAuth grants. Each importer lives in a subpackage and implements
// Importer; this package gives them what they share: the stores they
// write to (Env), progress that a terminal and source health can show,
// runs recorded for source health, a schedule inside `serve`, the mapping
// of IdP app names to catalog apps, and careful HTTP and CSV reading for
// bytes that come from outside.
package sources
