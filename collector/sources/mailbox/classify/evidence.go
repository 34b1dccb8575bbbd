package classify

import (
	"strings"
	"unicode/utf8"

	"github.com/shadowmap/shadowmap/collector"
)

// maxDetail bounds an evidence row's detail: a mailbox and a subject.
const maxDetail = 200

// Evidence turns a result into the evidence row it yields: invoices,
// receipts and renewal notices are spend (SourceInvoice, with the
// amount), sign-ups, trial endings and OAuth-grant notifications show an
// account (SourceSignupEmail). Marketing, security mail, non-SaaS bills,
// unknown and skipped messages, and messages about no catalog app, yield
// nothing. mailbox names where the message was read ("ap@acme.com" or
// "ap@acme.com/INBOX"); the detail keeps it and the subject, never the
// body.
func (r Result) Evidence(mailbox string) (collector.Evidence, bool) {
	if r.Skipped != "" || r.AppID == "" {
		return collector.Evidence{}, false
	}
	var src collector.Source
	switch r.Kind {
	case KindInvoice, KindReceipt, KindRenewal:
		src = collector.SourceInvoice
	case KindSignup, KindTrialEnding, KindOAuthGrant:
		src = collector.SourceSignupEmail
	default:
		return collector.Evidence{}, false
	}
	person := strings.ToLower(strings.TrimSpace(r.To))
	if person == "" {
		// The paying mailbox is the one the message sits in when its
		// To header names no one (Bcc, undisclosed recipients).
		if addr, _, _ := strings.Cut(mailbox, "/"); strings.Contains(addr, "@") {
			person = strings.ToLower(addr)
		}
	}
	date := r.Date.UTC()
	e := collector.Evidence{
		AppID:     r.AppID,
		Source:    src,
		Person:    person,
		Day:       date.Format("2006-01-02"),
		FirstSeen: date,
		LastSeen:  date,
		Count:     1,
		Detail:    truncate(mailbox+": "+r.Subject, maxDetail),
		DedupeKey: "mail:" + r.MessageID,
	}
	if src == collector.SourceInvoice && r.Currency != "" {
		e.AmountCents, e.Currency = r.AmountCents, r.Currency
	}
	return e, true
}

// truncate cuts s to at most n bytes, not inside a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
