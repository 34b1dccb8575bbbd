// Package web is the IT web view: HTTP handlers, html/template templates
// and static assets, embedded in the shadowmap binary. It reads the
// inventory through small interfaces, never through the store's SQL.
package web
