package classify

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/signatures"
)

// Options bound what Classify reads.
type Options struct {
	// MaxBytes is the largest message read; a larger one is skipped.
	// Zero means 10 MiB.
	MaxBytes int64
	// Now stands in for a message's date when it has none (nor a
	// Received header); nil means time.Now.
	Now func() time.Time
}

// Classify reads one raw message and says what it shows. It never
// panics: a message it cannot read comes back with Skipped set.
func Classify(c *signatures.Catalog, raw io.Reader, opts Options) (res Result) {
	var data []byte
	defer func() {
		// The parsers are written not to panic; this is the last line
		// of defence, so that one hostile message cannot stop an import.
		if p := recover(); p != nil {
			res = Result{Kind: KindUnknown, MessageID: rawHash(data), Skipped: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	max := opts.MaxBytes
	if max <= 0 {
		max = defaultMaxBytes
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	data, err := io.ReadAll(io.LimitReader(raw, max+1))
	if err != nil {
		// A read that broke off (a dropped connection) is not the
		// message: skip it rather than judge half of it.
		return Result{Kind: KindUnknown, MessageID: rawHash(data), Skipped: "unreadable: " + shortErr(err)}
	}
	tooLarge := int64(len(data)) > max
	if tooLarge {
		data = data[:max]
	}
	m := parse(data, now)
	res = Result{
		Kind:      KindUnknown,
		MessageID: m.messageID,
		From:      m.from,
		To:        m.to,
		Subject:   m.subject,
		Date:      m.date,
	}
	switch {
	case tooLarge:
		res.Skipped = fmt.Sprintf("message larger than %d bytes", max)
		return res
	case m.skipped != "":
		res.Skipped = m.skipped
		return res
	}
	if c == nil {
		return res
	}
	classify(c, m, &res)
	return res
}

// Candidate says from headers alone whether a message's body is worth
// fetching: it comes from a catalog vendor or a payment processor, or its
// subject looks like a bill, a sign-up, a trial or a grant. Bulk mail from
// no known vendor is not.
func Candidate(c *signatures.Catalog, h Header) (worth bool, why string) {
	if c == nil {
		return false, "no catalog"
	}
	subject := strings.Join(strings.Fields(h.Subject), " ")
	mm := c.MatchMailSender(signatures.MailHeader{From: h.From, Subject: subject})
	addr, _ := splitFrom(h.From)
	proc := processorOf(addr, mm.Processor)
	switch {
	case mm.App != nil && mm.By != "display_name":
		return true, "from " + mm.App.ID + " (" + mm.By + ")"
	case proc != "":
		return true, "from payment processor " + proc
	case grantSubjectRe.MatchString(subject):
		return true, "OAuth grant notification"
	case trialRe.MatchString(subject), renewalRe.MatchString(subject):
		return true, "subscription notice"
	case billSubjectRe.MatchString(subject):
		return true, "subject looks like a bill"
	case signupSubjectRe.MatchString(subject):
		return true, "subject looks like a sign-up"
	case mm.App != nil:
		return true, "display name of " + mm.App.ID
	}
	if h.ListUnsubscribe != "" {
		return false, "bulk mail from no known vendor"
	}
	return false, "nothing known in the headers"
}

var (
	billSubjectRe     = regexp.MustCompile(`(?i)\b(?:invoice|receipt|payment|billing|bill|order|charged?|subscription|renewal|rechnung|facture|factura|quittung)\b|領収書|請求書|请求书|发票|發票|收据`)
	signupSubjectRe   = regexp.MustCompile(`(?i)\bwelcome to\b|\bwelcome aboard\b|\bverify your (?:email|account|e-mail)\b|\bconfirm your (?:email|account|e-mail|sign ?up|registration|address)\b|\bactivate your account\b|\bfinish (?:setting up|signing up)\b|\bget started with\b|\bthanks for signing up\b|\byour account (?:is ready|has been created)\b|\binvited you\b|\binvitation to join\b`)
	securitySubjectRe = regexp.MustCompile(`(?i)\blog ?in link\b|\bsecure link\b|\blink to (?:log|sign) ?in\b|\b(?:ssh|gpg|api) (?:authentication )?(?:public )?key\b|\bpersonal access token\b|\bwas added to your account\b|\b(?:sign[- ]?in|login|log-in|verification|security|one-time|2fa|mfa) (?:code|alert|attempt|notification)\b|\bpassword (?:reset|changed)\b|\breset your password\b|\bnew (?:sign[- ]?in|login|device)\b|\bmagic link\b|\btwo-factor\b|\bsecurity alert\b|\bsuspicious\b`)
	trialRe           = regexp.MustCompile(`(?i)\btrial (?:ends|ending|will end|expires|is ending|is about to end|has ended|expired|is over)\b|\b(?:days?|hours?) left (?:in|on) your (?:free )?trial\b|\byour (?:free )?trial\b.*\b(?:ends?|expires?|ending)\b|\bend of your (?:free )?trial\b`)
	renewalRe         = regexp.MustCompile(`(?i)\bwill (?:auto(?:matically|-)?\s?)?renew\b|\bupcoming renewal\b|\brenewal (?:notice|reminder)\b|\b(?:subscription|plan) renews\b|\brenews on\b|\bis (?:about to|going to) renew\b|\bauto-renewal\b`)
	grantSubjectRe    = regexp.MustCompile(`(?i)\bwas granted access to your (?:google )?account\b|\bhas access to your google account\b|\bthird-party (?:application|app) has been (?:added|connected|authorized)\b|\bconnected to your (?:google|microsoft) account\b|\bnew app (?:connected|authorized)\b|\bgranted access to your\b|\bapp (?:permissions|consent) (?:granted|added)\b`)
	grantAppRe        = regexp.MustCompile(`(?i)^\s*(.+?)\s+(?:was granted access|has access|now has access|connected to your|was connected)`)
	newsletterRe      = regexp.MustCompile(`(?i)\bnewsletter\b|\bwebinar\b|\bunsubscribe\b|\bproduct updates?\b|\bwhat'?s new\b|\bannouncing\b|\bintroducing\b|\bnew features?\b|\bdigest\b|\bthis (?:week|month) (?:at|in)\b|\blimited time\b|\b\d+% off\b|\bspecial offer\b|\bjoin us\b|\bevent\b|\bregister now\b|\bcase study\b|\bmanage (?:your )?(?:email )?preferences\b|\bupgrade (?:now|today)\b`)
	receiptWordRe     = regexp.MustCompile(`(?i)\breceipt\b|\bpayment (?:received|confirmation|successful|confirmed)\b|\bthanks? (?:you )?for your (?:payment|purchase|order)\b|\bpaid\b|\bquittung\b|\bzahlungsbestätigung\b|\breçu\b|領収書|收据|收據|\bcharged\b|\border confirmation\b|\bbooking confirmation\b|\bconfirmation\b|\bitinerary\b|\bfolio\b`)
	invoiceWordRe     = regexp.MustCompile(`(?i)\binvoice\b|\bbilling statement\b|\brechnung\b|\bfacture\b|\bfactura\b|\bstatement\b|\bsubscription renewed\b|\bpayment due\b|請求書|请求书|发票|發票`)
)

// classify fills res from the parsed message.
func classify(c *signatures.Catalog, m *message, res *Result) {
	text := m.text()
	lines := splitLines(text)
	addr, display := splitFrom(m.from)
	mm := c.MatchMailSender(signatures.MailHeader{From: m.from, Subject: m.subject})

	// Who is it about? The matcher on the headers first, then the
	// processor's mail body, which names the merchant.
	v := identify(c, mm, addr, display, m.subject, lines)
	res.Processor = v.processor
	res.Vendor = v.vendor
	if v.app != nil {
		res.AppID, res.By = v.app.ID, v.by
	}

	total, hasTotal := extractTotal(lines, m.subject, text)
	kind := decideKind(mm, m, text, hasTotal, v)
	switch kind {
	case KindOAuthGrant:
		// The grant mail comes from Google or Microsoft, not the app:
		// the app is the one the subject names.
		res.AppID, res.By, res.Vendor, res.Processor = "", "", "", ""
		if a, name := grantedApp(c, m.subject, lines); a != nil {
			res.AppID, res.By, res.Vendor = a.ID, "grant_subject", name
		}
	case KindInvoice, KindReceipt, KindRenewal:
		if v.weak && v.by == "display_name" {
			// A bill whose From display name is a vendor's on a domain
			// that is not: phishing, not spend.
			_, domain, _ := strings.Cut(addr, "@")
			*res = Result{Kind: KindUnknown, MessageID: res.MessageID, From: res.From, To: res.To, Subject: res.Subject, Date: res.Date,
				Skipped: fmt.Sprintf("forged sender: the From display name %q is %s's, the address is at %s", display, v.app.ID, domain)}
			return
		}
		if res.AppID == "" || v.weak {
			// A bill from no known vendor, or one that only its
			// display name ties to a vendor (anyone can forge From),
			// is not SaaS spend.
			kind = KindNotSaaS
			res.AppID, res.By = "", ""
		}
	}
	res.Kind = kind
	switch kind {
	case KindInvoice, KindReceipt, KindRenewal, KindNotSaaS:
		if hasTotal {
			res.AmountCents, res.Currency = total.cents, total.currency
		}
		res.InvoiceNumber = extractInvoiceNumber(lines, m.subject)
		if kind == KindNotSaaS {
			// A hotel's or shop's amount and number help IT recognise
			// the message; plans and seats would be noise.
			res.AppID, res.By = "", ""
			return
		}
		res.PeriodStart, res.PeriodEnd = extractPeriod(text, total.currency != "" && total.currency != "USD")
		res.Plan = extractPlan(lines, m.subject, v.names())
		res.Seats = extractSeats(lines)
	case KindTrialEnding:
		name := ""
		if v.app != nil {
			name = v.app.Name
		}
		res.Plan = extractTrialPlan(m.subject, lines, name)
	case KindSecurity, KindMarketing, KindUnknown:
		// A weak display-name match on mail that proves nothing is no
		// finding at all.
		if v.weak {
			res.AppID, res.By = "", ""
		}
	}
}

// decideKind says what the message is, from the matcher's reading of the
// subject and the words of subject and body.
func decideKind(mm signatures.MailMatch, m *message, text string, hasTotal bool, v vendor) Kind {
	subject := m.subject
	head := text
	if len(head) > 4000 {
		head = head[:4000]
	}
	switch {
	case grantSubjectRe.MatchString(subject):
		return KindOAuthGrant
	case trialRe.MatchString(subject):
		return KindTrialEnding
	case renewalRe.MatchString(subject):
		return KindRenewal
	case mm.Kind == signatures.MailSecurity || securitySubjectRe.MatchString(subject):
		return KindSecurity
	case mm.Kind == signatures.MailSignup || signupSubjectRe.MatchString(subject):
		if m.listUnsub != "" && newsletterRe.MatchString(subject) {
			return KindMarketing
		}
		return KindSignup
	case mm.Kind == signatures.MailMarketing:
		return KindMarketing
	}
	bill := ""
	switch {
	case receiptWordRe.MatchString(subject) && !invoiceWordRe.MatchString(subject):
		bill = "receipt"
	case invoiceWordRe.MatchString(subject):
		bill = "invoice"
	case mm.Kind == signatures.MailReceipt:
		bill = "receipt"
	case mm.Kind == signatures.MailInvoice:
		bill = "invoice"
	case hasTotal && v.processor != "":
		bill = "receipt"
	}
	if bill != "" && (hasTotal || mm.App != nil || v.processor != "") {
		if m.listUnsub != "" && !hasTotal && newsletterRe.MatchString(subject) {
			return KindMarketing
		}
		if renewalRe.MatchString(head) && !receiptWordRe.MatchString(subject) && !paidRe.MatchString(head) {
			return KindRenewal
		}
		if bill == "receipt" {
			return KindReceipt
		}
		return KindInvoice
	}
	if trialRe.MatchString(head) && !hasTotal {
		return KindTrialEnding
	}
	// Bulk mail that is not a bill is marketing, prices in it or not
	// (ticket prices, upsells).
	if m.listUnsub != "" || newsletterRe.MatchString(subject) && !hasTotal {
		return KindMarketing
	}
	if hasTotal && (receiptWordRe.MatchString(head) || invoiceWordRe.MatchString(head)) {
		if invoiceWordRe.MatchString(subject) {
			return KindInvoice
		}
		return KindReceipt
	}
	if mm.App != nil && !v.weak && signupSubjectRe.MatchString(head) {
		return KindSignup
	}
	return KindUnknown
}

var paidRe = regexp.MustCompile(`(?i)\b(?:amount|total) paid\b|\bpayment (?:received|successful)\b|\bwe(?:'ve| have) charged\b|\bthanks for your payment\b`)

// grantedApp finds the app an OAuth-grant notification names: in the
// subject ("ChatGPT was granted access to your Google Account") or on a
// body line of the same shape.
func grantedApp(c *signatures.Catalog, subject string, lines []string) (*signatures.App, string) {
	for _, s := range append([]string{subject}, lines...) {
		if m := grantAppRe.FindStringSubmatch(s); m != nil {
			if a := merchant(c, m[1]); a != nil {
				return a, m[1]
			}
		}
	}
	return nil, ""
}

func splitLines(text string) []string {
	raw := strings.Split(text, "\n")
	out := make([]string, 0, len(raw))
	for _, l := range raw {
		l = strings.TrimSpace(strings.ReplaceAll(l, "\r", ""))
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
