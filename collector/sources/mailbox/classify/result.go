package classify

import "time"

// Kind is what a message is, for the inventory.
type Kind string

// The kinds of message the classifier tells apart. Invoices, receipts and
// renewal notices are spend; sign-ups, welcomes and trial endings show an
// account made with a company address; an OAuth-grant notification shows
// a connected app; marketing shows an app exists but is neither.
const (
	KindInvoice     Kind = "invoice"
	KindReceipt     Kind = "receipt"
	KindRenewal     Kind = "renewal"
	KindSignup      Kind = "signup"
	KindTrialEnding Kind = "trial_ending"
	KindOAuthGrant  Kind = "oauth_grant"
	KindSecurity    Kind = "security"
	KindMarketing   Kind = "marketing"
	// KindNotSaaS is a receipt or invoice from a business that is not a
	// SaaS vendor (a hotel, an airline, a shop).
	KindNotSaaS Kind = "not_saas"
	// KindUnknown is a message the classifier recognised nothing in.
	KindUnknown Kind = "unknown"
)

// Header is what the importer knows of a message before fetching its
// body (IMAP ENVELOPE and chosen header fields): enough to decide
// whether the body is worth fetching.
type Header struct {
	MessageID string
	From      string // as received: "Vercel <invoice+statements@vercel.com>"
	ReplyTo   string
	To        string
	Subject   string
	Date      time.Time
	// ListUnsubscribe is the List-Unsubscribe header: bulk mail has one.
	ListUnsubscribe string
}

// Result is what one message yields. It holds headers and extracted
// fields only: never the body.
type Result struct {
	Kind Kind `json:"kind"`
	// AppID is the catalog app the message is about, "" when none.
	AppID string `json:"app_id,omitempty"`
	// Vendor is the vendor as the message names it (a legal name on a
	// Stripe receipt, the vendor a Paddle receipt names).
	Vendor string `json:"vendor,omitempty"`
	// Processor is the payment processor that sent it for the vendor:
	// stripe, paddle, chargebee, apple, google, or "".
	Processor string `json:"processor,omitempty"`
	// By says how the app was identified (the catalog matcher's By, or
	// "body" when the vendor was found in the body).
	By string `json:"by,omitempty"`

	// Amounts: the total charged, in the currency's minor units.
	AmountCents   int64  `json:"amount_cents,omitempty"`
	Currency      string `json:"currency,omitempty"` // ISO 4217, upper case
	InvoiceNumber string `json:"invoice_number,omitempty"`
	// PeriodStart and PeriodEnd are the billing period, YYYY-MM-DD.
	PeriodStart string `json:"period_start,omitempty"`
	PeriodEnd   string `json:"period_end,omitempty"`
	Plan        string `json:"plan,omitempty"`
	Seats       int    `json:"seats,omitempty"`

	// Headers, as the evidence keeps them.
	MessageID string    `json:"message_id"` // the Message-ID, or "sha256:<hex>" of the message when it has none
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"` // the paying or signed-up mailbox
	Subject   string    `json:"subject,omitempty"`
	Date      time.Time `json:"date,omitzero"`

	// Skipped is why the message could not be read (bad MIME, too large),
	// "" when it was read. A skipped message yields no evidence.
	Skipped string `json:"skipped,omitempty"`
}
