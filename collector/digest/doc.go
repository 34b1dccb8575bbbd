// Package digest is the weekly shadow-IT email: what changed in the
// inventory this week, ranked for IT, with every line linking to its
// evidence in the web view. It builds the digest from the inventory and
// the stores, renders it as text and HTML, and sends it over SMTP once a
// week, keeping a send log so a restart never sends twice.
package digest
