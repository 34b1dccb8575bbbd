package classify

import (
	"strings"
	"testing"
)

func TestExtractTotal(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		cents int64
		cur   string
	}{
		{"us dollars", "Subtotal $1,100.00\nTax $125.00\nTotal $1,225.00", 122500, "USD"},
		{"amount paid beats total", "Total $20.00\nAmount paid $18.00", 1800, "USD"},
		{"german", "Zwischensumme: 1.017,90 €\nMwSt. (19 %): 193,40 €\nGesamtbetrag: 1.211,30 €", 121130, "EUR"},
		{"french no-break space", "TVA (20 %) : 208,78 €\nMontant total : 1\u00a0252,66\u00a0€", 125266, "EUR"},
		{"french narrow space", "Total : 1\u202f252,66 €", 125266, "EUR"},
		{"swiss apostrophe", "Total in CHF: CHF 1'234.50", 123450, "CHF"},
		{"yen zero decimal", "Total ¥12,000", 12000, "JPY"},
		{"fullwidth yen in japanese", "ご請求金額：￥54,780（税込）", 54780, "JPY"},
		{"fullwidth yen in chinese", "合计：￥500.00", 50000, "CNY"},
		{"iso code after", "Total Due: USD 19,800.00", 1980000, "USD"},
		{"code suffix", "Total: 54.00 EUR", 5400, "EUR"},
		{"pound", "VAT £3.67\nTotal £22.00", 2200, "GBP"},
		{"canadian dollar by code", "Total $1,428.00 CAD", 142800, "CAD"},
		{"c dollar", "Amount due: C$99.00", 9900, "CAD"},
		{"australian", "Total A$45.10", 4510, "AUD"},
		{"brazil", "Total R$ 1.234,56", 123456, "BRL"},
		{"rupee", "Total ₹1,499", 149900, "INR"},
		{"won", "Total ₩15,000", 15000, "KRW"},
		{"krona", "Totalt att betala\nTotal 1 299,00 kr", 129900, "SEK"},
		{"norwegian krone named", "Total 499,00 kr (NOK)", 49900, "NOK"},
		{"amount on the next line", "Total\n$60.00", 6000, "USD"},
		{"single amount, no label", "Thanks! We charged your card.\n$42.00", 4200, "USD"},
		{"discount line is not the total", "Total discount -$5.00\nTotal $15.00", 1500, "USD"},
		{"one decimal", "Total $7.5", 750, "USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := extractTotal(splitLines(tt.text), "", tt.text)
			if !ok || got.cents != tt.cents || got.currency != tt.cur {
				t.Errorf("extractTotal(%q) = %d %s (%v), want %d %s", tt.text, got.cents, got.currency, ok, tt.cents, tt.cur)
			}
		})
	}
	for _, text := range []string{"", "Hello there", "Total: see attached", "Order 12345 shipped"} {
		if got, ok := extractTotal(splitLines(text), "", text); ok {
			t.Errorf("extractTotal(%q) = %+v, want none", text, got)
		}
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct {
		num, cur string
		want     int64
	}{
		{"1,234.56", "USD", 123456},
		{"1.234,56", "EUR", 123456},
		{"1 234,56", "EUR", 123456},
		{"1'234.56", "CHF", 123456},
		{"12,000", "JPY", 12000},
		{"12.000", "JPY", 12000},
		{"1,234", "USD", 123400},
		{"20", "USD", 2000},
		{"0.99", "USD", 99},
	}
	for _, tt := range tests {
		if got, ok := parseAmount(tt.num, tt.cur); !ok || got != tt.want {
			t.Errorf("parseAmount(%q, %s) = %d, %v; want %d", tt.num, tt.cur, got, ok, tt.want)
		}
	}
	if _, ok := parseAmount("99999999999999999", "USD"); ok {
		t.Error("an absurdly long number parsed")
	}
}

func TestExtractInvoiceNumber(t *testing.T) {
	tests := []struct{ text, subject, want string }{
		{"Receipt number 2381-4417\nInvoice number 4E0B1C7A-0003", "", "4E0B1C7A-0003"},
		{"Invoice #INV-2026-118", "", "INV-2026-118"},
		{"Invoice No.: 000193847", "", "000193847"},
		{"Rechnungsnummer: RE-2026-11-30417", "", "RE-2026-11-30417"},
		{"Numéro de facture : FR2026110045812", "", "FR2026110045812"},
		{"請求書番号：INV-JP-50318842", "", "INV-JP-50318842"},
		{"Order ID: 61839201-1147228", "", "61839201-1147228"},
		{"Order number: GPA.3391-2750-8641-55872", "", "GPA.3391-2750-8641-55872"},
		{"Transaction ID: 7K2PQ81X", "", "7K2PQ81X"},
		{"Invoice date: 2026-11-04", "", ""},
		{"nothing here", "Your receipt from Vercel Inc. #2561-3340", "2561-3340"},
		{"Thanks for your order", "", ""},
	}
	for _, tt := range tests {
		if got := extractInvoiceNumber(splitLines(tt.text), tt.subject); got != tt.want {
			t.Errorf("extractInvoiceNumber(%q, %q) = %q, want %q", tt.text, tt.subject, got, tt.want)
		}
	}
}

func TestExtractPeriod(t *testing.T) {
	tests := []struct {
		text       string
		dayFirst   bool
		start, end string
	}{
		{"Nov 1 – Nov 30, 2026", false, "2026-11-01", "2026-11-30"},
		{"Nov 1 – Dec 1, 2026", false, "2026-11-01", "2026-12-01"},
		{"Nov 3, 2026 – Nov 3, 2027", false, "2026-11-03", "2027-11-03"},
		{"Dec 15 – Jan 14, 2027", false, "2026-12-15", "2027-01-14"},
		{"Billing period: November 12, 2026 - December 11, 2026", false, "2026-11-12", "2026-12-11"},
		{"2026-11-01 to 2026-11-30", false, "2026-11-01", "2026-11-30"},
		{"1 Nov 2026 – 30 Nov 2026", false, "2026-11-01", "2026-11-30"},
		{"Leistungszeitraum: 01.11.2026 - 30.11.2026", true, "2026-11-01", "2026-11-30"},
		{"04-Nov-2026 to 03-Dec-2026", false, "2026-11-04", "2026-12-03"},
		{"04/11/2026 - 03/12/2026", true, "2026-11-04", "2026-12-03"},
		{"04/11/2026 - 03/12/2026", false, "2026-11-04", "2026-12-03"}, // month first is no period
		{"11/01/2026 - 11/30/2026", false, "2026-11-01", "2026-11-30"},
		{"2026年11月10日～2026年12月9日", false, "2026-11-10", "2026-12-09"},
		{"服务期：2026-11-11 至 2027-11-10", false, "2026-11-11", "2027-11-10"},
		{"Nov 30 – Nov 1, 2026", false, "", ""},
		{"2001-01-01 to 2026-01-01", false, "", ""},
		{"Feb 30 – Mar 30, 2026", false, "", ""},
	}
	for _, tt := range tests {
		s, e := extractPeriod(tt.text, tt.dayFirst)
		if s != tt.start || e != tt.end {
			t.Errorf("extractPeriod(%q, dayFirst %v) = %s %s, want %s %s", tt.text, tt.dayFirst, s, e, tt.start, tt.end)
		}
	}
}

func TestExtractPlan(t *testing.T) {
	tests := []struct {
		text  string
		names []string
		want  string
	}{
		{"Plan: Pro (billed annually)", nil, "Pro"},
		{"Plan: Business", nil, "Business"},
		{"Produkt: Microsoft 365 Business Standard", []string{"Microsoft 365"}, "Business Standard"},
		{"Claude Pro\nQty 1    $20.00", []string{"Claude"}, "Pro"},
		{"Plus Plan (Annual)", nil, "Plus"},
		{"ChatGPT Business Subscription", []string{"ChatGPT"}, "Business"},
		{"Tally Pro - Monthly            1     $29.00", []string{"Tally"}, "Pro"},
		{"Hubstaff Team plan (per seat)    14      $10.00", []string{"Hubstaff"}, "Team"},
		{"CMS Site Plan", []string{"Webflow"}, "CMS"},
		{"Google Workspace Business Standard (75 users): CHF 1'234.50", []string{"Google Workspace"}, "Business Standard"},
		{"套餐：Canva 团队版（年付）", []string{"Canva"}, "Teams"},
		{"Please find attached invoice 1 for your ZoomInfo SalesOS Professional subscription (5 users).", []string{"ZoomInfo"}, "Professional"},
		{"The Acme Team", nil, ""},
		{"Thanks for being a customer", nil, ""},
	}
	for _, tt := range tests {
		if got := extractPlan(splitLines(tt.text), "", tt.names); got != tt.want {
			t.Errorf("extractPlan(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	trials := []struct{ subject, app, want string }{
		{"Your Miro Business trial ends in 3 days", "Miro", "Business"},
		{"Your Sales Hub Professional trial is ending soon", "HubSpot", "Sales Hub Professional"},
		{"Your free trial ends tomorrow", "Miro", ""},
	}
	for _, tt := range trials {
		if got := extractTrialPlan(tt.subject, nil, tt.app); got != tt.want {
			t.Errorf("extractTrialPlan(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
}

func TestExtractSeats(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"12 seats", 12},
		{"Qty 8 x $40.00    $320.00", 8},
		{"Pro plan - 14 active members x $87.50", 14},
		{"Anzahl Lizenzen: 87", 87},
		{"Members: 9", 9},
		{"成员数：5", 5},
		{"ライセンス数：10", 10},
		{"Starter plan × 6 users", 6},
		{"12 × Pro", 12},
		{"Description                      Units   Unit price   Amount\nHubstaff Team plan (per seat)    14      $10.00       $140.00", 14},
		{"Thanks for your payment", 0},
	}
	for _, tt := range tests {
		if got := extractSeats(splitLines(tt.text)); got != tt.want {
			t.Errorf("extractSeats(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for _, tt := range []struct {
		cents int64
		cur   string
		want  string
	}{{2000, "USD", "20.00 USD"}, {12000, "JPY", "12000 JPY"}, {5, "EUR", "0.05 EUR"}, {-150, "GBP", "-1.50 GBP"}} {
		if got := FormatAmount(tt.cents, tt.cur); got != tt.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", tt.cents, tt.cur, got, tt.want)
		}
	}
}

func TestSplitLinesDropsBlanks(t *testing.T) {
	if got := strings.Join(splitLines(" a \r\n\n\tb\n"), "|"); got != "a|b" {
		t.Errorf("splitLines = %q", got)
	}
}
