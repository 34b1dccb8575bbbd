// Package mailbox is the mail importer: it reads finance, accounts-payable
// and IT mailboxes over IMAP and turns invoices, receipts and sign-up
// mail into evidence. Each configured mailbox and folder is scanned
// incrementally (UIDVALIDITY and the last UID stored as a checkpoint),
// read-only (EXAMINE, BODY.PEEK: nothing is marked read), headers first;
// only messages the classifier calls candidates have their bodies
// fetched, up to a size cap. The judgement itself lives in the classify
// subpackage; this package is the IMAP side: TLS, authentication
// (PLAIN, LOGIN and XOAUTH2), chunked fetches, checkpoints, progress
// and counts of skipped messages.
package mailbox
