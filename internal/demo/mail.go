package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/signatures"
)

// billing is how a vendor bills the company: the currency, the price per
// seat and month, how many seats, and whether it bills once a year.
type billing struct {
	app      string
	currency string
	perSeat  int64 // minor units a month
	seats    int
	annual   bool
	// months is how long the company has paid: 6 (the whole mailbox)
	// unless the app was bought recently.
	months int
	plan   string
	// payer is who the bill goes to: accounts payable for the apps IT
	// bought, an employee's own address for one expensed on a card.
	payer string
}

var billings = []billing{
	{"slack", "USD", 875, 240, false, 6, "Pro", ""},
	{"notion", "USD", 1000, 120, false, 6, "Plus", ""},
	{"figma", "USD", 1500, 22, true, 6, "Professional", ""},
	{"atlassian", "AUD", 1210, 80, false, 6, "Standard", ""},
	{"miro", "EUR", 800, 60, false, 6, "Business", ""},
	{"github", "USD", 400, 95, false, 6, "Team", ""},
	{"linear", "USD", 1400, 70, false, 4, "Business", ""},
	{"1password", "CAD", 1099, 300, true, 6, "Business", ""},
	{"zoom", "USD", 1332, 40, false, 6, "Business", ""},
	{"canva", "GBP", 1000, 12, false, 3, "Teams", ""},
	{"chatgpt", "USD", 2500, 1, false, 4, "Plus", "expensed"},
	{"cursor", "USD", 4000, 9, false, 3, "Teams", "expensed"},
}

var currencySymbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "CAD": "CA$"}

// signups are welcome mails employees got from apps they signed up to
// with their work address.
var signups = []string{"linear", "notion", "airtable", "calendly", "loom", "miro", "typeform", "perplexity", "deepl", "zapier", "claude", "webflow"}

// mailMessage is one generated message, as the mailbox stores it.
type mailMessage struct {
	raw  []byte
	date time.Time
}

// mailbox generates the accounts-payable mailbox: six months of invoices
// and receipts from the billing vendors, sign-up mails to employees, and a
// newsletter and a hotel bill the classifier must not count as SaaS spend.
func (co *company) mailbox(now time.Time) []mailMessage {
	rng := rand.New(rand.NewPCG(co.rng.Uint64(), 0x3a11))
	var out []mailMessage
	seq := 1000
	for _, b := range billings {
		a := co.catalog.App(b.app)
		to := "Accounts Payable <ap@" + Domain + ">"
		if b.payer == "expensed" && len(co.people) > 0 {
			p := co.people[rng.IntN(len(co.people))]
			to = titleName(p) + " <" + p.Email + ">"
		}
		day := 1 + rng.IntN(27)
		renewal := rng.IntN(5) // the month an annual plan renews in
		for m := b.months - 1; m >= 0; m-- {
			if b.annual && m != renewal {
				continue
			}
			date := time.Date(now.Year(), now.Month(), day, 8, 0, 0, 0, time.UTC).AddDate(0, -m, 0).Add(time.Duration(rng.IntN(3600)) * time.Second)
			if date.After(now) {
				continue // this month's bill is not out yet
			}
			seats := b.seats + rng.IntN(b.seats/10+1) - b.seats/20
			months := 1
			if b.annual {
				months = 12
			}
			seq++
			out = append(out, mailMessage{raw: invoiceMail(a, b, seats, months, date, seq, to), date: date})
		}
	}
	for _, id := range signups {
		a := co.catalog.App(id)
		users := co.usersOf(id)
		if len(users) > 0 {
			p := users[rng.IntN(len(users))]
			date := now.Add(-time.Duration(rng.Int64N(int64(180*24*time.Hour)/int64(time.Second))) * time.Second)
			seq++
			out = append(out, mailMessage{raw: signupMail(a, p, date, seq), date: date})
		}
	}
	seq++
	out = append(out, mailMessage{raw: message(map[string]string{
		"From":             "Asana <newsletter@asana.com>",
		"To":               "ap@" + Domain,
		"Subject":          "5 ways teams plan their quarter in Asana",
		"List-Unsubscribe": "<https://asana.com/unsubscribe>",
	}, now.AddDate(0, 0, -12), seq, "Plan your next quarter with goals, portfolios and workload.\n\nRead the guide: https://asana.com/resources\n"), date: now.AddDate(0, 0, -12)})
	seq++
	out = append(out, mailMessage{raw: message(map[string]string{
		"From":    "Marriott Bonvoy <folio@marriott.com>",
		"To":      "ap@" + Domain,
		"Subject": "Your Marriott folio: Berlin Marriott Hotel",
	}, now.AddDate(0, -2, -3), seq, "Guest folio\n\nRoom 1204, 2 nights\nTotal charged: €412.00\n"), date: now.AddDate(0, -2, -3)})
	return out
}

// invoiceMail writes a vendor's invoice or receipt in the plain form most
// billing systems send next to their HTML part.
func invoiceMail(a *signatures.App, b billing, seats, months int, date time.Time, seq int, to string) []byte {
	cents := b.perSeat * int64(seats) * int64(months)
	total := formatMoney(cents, b.currency)
	number := fmt.Sprintf("%s-%d-%04d", strings.ToUpper(a.ID[:min(3, len(a.ID))]), date.Year(), seq)
	end := date.AddDate(0, months, -1)
	body := fmt.Sprintf(`Thanks for your payment!

Here is your invoice for Acme Example.

Invoice number: %s
Invoice date: %s
Plan: %s
Billing period: %s - %s

%s plan - %d seats                 %s
Total charged                        %s %s

Questions? Reply to this email or visit %s

%s
`, number, date.Format("January 2, 2006"), b.plan, date.Format("Jan 2, 2006"), end.Format("Jan 2, 2006"),
		b.plan, seats, total, total, b.currency, a.Website, a.Vendor)
	kind := "invoice"
	if b.payer == "expensed" {
		kind = "receipt"
	}
	return message(map[string]string{
		"From":    fmt.Sprintf("%s <billing@%s>", a.Name, senderDomain(a)),
		"To":      to,
		"Subject": fmt.Sprintf("Your %s %s #%s", a.Name, kind, number),
	}, date, seq, body)
}

// signupMail writes a welcome mail from an app to an employee.
func signupMail(a *signatures.App, p *person, date time.Time, seq int) []byte {
	body := fmt.Sprintf(`Hi %s,

Welcome to %s! Your account %s is ready.

Get started: %s

The %s team
`, upperFirst(p.First), a.Name, p.Email, a.Website, a.Name)
	return message(map[string]string{
		"From":    fmt.Sprintf("%s <hello@%s>", a.Name, senderDomain(a)),
		"To":      titleName(p) + " <" + p.Email + ">",
		"Subject": "Welcome to " + a.Name,
	}, date, seq, body)
}

func senderDomain(a *signatures.App) string {
	if a.Mail != nil && len(a.Mail.SenderDomains) > 0 {
		return a.Mail.SenderDomains[0]
	}
	for _, d := range a.Domains {
		return d.Name
	}
	return "example.com"
}

// message writes an RFC 5322 message with a plain UTF-8 body.
func message(h map[string]string, date time.Time, seq int, body string) []byte {
	var b strings.Builder
	from := h["From"]
	domain := from[strings.LastIndex(from, "@")+1 : strings.LastIndex(from, ">")]
	fmt.Fprintf(&b, "Return-Path: <bounces+%d@%s>\r\n", seq, domain)
	fmt.Fprintf(&b, "Message-ID: <demo-%d.%d@%s>\r\n", seq, date.Unix(), domain)
	fmt.Fprintf(&b, "Date: %s\r\n", date.UTC().Format(time.RFC1123Z))
	for _, k := range []string{"From", "To", "Subject", "List-Unsubscribe"} {
		if v, ok := h[k]; ok {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

// formatMoney writes an amount the way an English invoice does: $1,225.00.
func formatMoney(cents int64, currency string) string {
	units := fmt.Sprintf("%d", cents/100)
	var grouped strings.Builder
	for i, r := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			grouped.WriteByte(',')
		}
		grouped.WriteRune(r)
	}
	return fmt.Sprintf("%s%s.%02d", currencySymbols[currency], grouped.String(), cents%100)
}
