// Package web is the IT web view: HTTP handlers, html/template templates
// and static assets, embedded in the shadowmap binary. It reads the
// inventory and the stores through small interfaces, never through the
// store's SQL. Every page is rendered on the server; a little vanilla
// JavaScript helps where it must, and charts are inline SVG.
//
// Everything a page shows that came from outside (app names, tenants,
// mail subjects, display names) is escaped by html/template; forms carry
// CSRF tokens; responses carry a strict Content-Security-Policy.
package web
