// Package classify reads one email message and says what it shows about
// the company's SaaS: an invoice, receipt or renewal (spend), a sign-up,
// welcome or trial ending (an account), an OAuth-grant notification, or
// marketing; which catalog app it is about; and the fields of a bill
// (amount, currency, invoice number, billing period, plan, seats). It is
// the mail importer's judgement, separate from IMAP so that
// `shadowmap mail classify FILE.eml` and the fuzz target run it on bytes
// alone. Messages are untrusted: every MIME horror is survived, never
// panicked on, and a message that cannot be read is skipped with a reason.
package classify
