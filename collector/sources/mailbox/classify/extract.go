package classify

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// money is an amount found in text.
type money struct {
	cents    int64
	currency string
}

// Currency signs and codes, longest first so "US$" wins over "$".
var (
	currencyPrefix = `(?:US\$|USD\s?\$|AU\$|A\$|CA\$|C\$|NZ\$|HK\$|S\$|R\$|CN¥|JP¥|RMB|\$|€|£|¥|￥|₹|₩|CHF|kr\.?|USD|EUR|GBP|JPY|CAD|AUD|NZD|CHF|SEK|NOK|DKK|INR|BRL|KRW|CNY|HKD|SGD|MXN|PLN|ZAR|ILS|TRY|CZK)`
	currencySuffix = `(?:USD|EUR|GBP|JPY|CAD|AUD|NZD|CHF|SEK|NOK|DKK|INR|BRL|KRW|CNY|HKD|SGD|MXN|PLN|ZAR|ILS|TRY|CZK|€|£|¥|￥|kr|zł|円|元|Kč)`
	// A number with any of the common grouping and decimal marks:
	// 1,234.56  1.234,56  1 234,56  1'234.56  12,000.
	amountNumber = `\d{1,3}(?:[,.'’\x{00A0}\x{202F} ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`

	moneyPrefixRe = regexp.MustCompile(`(?i)(?:^|[^\p{L}\d])(` + currencyPrefix + `)\s?(-?)\s?(` + amountNumber + `)(?:\s?(` + currencySuffix + `)\b)?`)
	moneySuffixRe = regexp.MustCompile(`(?i)(?:^|[^\p{L}\d.,])(` + amountNumber + `)[\s\x{00A0}\x{202F}]?(` + currencySuffix + `)(?:[^\p{L}]|$)`)
)

// zeroDecimal currencies have no minor unit: ¥12,000 is 12000, not 120.00.
var zeroDecimal = map[string]bool{"JPY": true, "KRW": true, "CLP": true, "VND": true, "ISK": true, "HUF": false}

var symbolCurrency = map[string]string{
	"$": "USD", "us$": "USD", "usd$": "USD", "usd $": "USD", "au$": "AUD", "a$": "AUD", "ca$": "CAD", "c$": "CAD",
	"nz$": "NZD", "hk$": "HKD", "s$": "SGD", "r$": "BRL", "cn¥": "CNY", "jp¥": "JPY", "rmb": "CNY", "元": "CNY",
	"€": "EUR", "£": "GBP", "¥": "JPY", "￥": "JPY", "円": "JPY", "₹": "INR", "₩": "KRW", "kr": "SEK", "kr.": "DKK",
	"zł": "PLN", "kč": "CZK",
}

// currencyHints are what a message's text says about ambiguous signs,
// worked out once per message: which dollar a bare "$" is, which krone
// "kr" is, and whether "¥" is the yuan.
type currencyHints struct {
	dollar, krone string
	yuan          bool
}

func newCurrencyHints(text string) currencyHints {
	h := currencyHints{dollar: "USD", krone: "SEK"}
	if !strings.Contains(text, "USD") {
		for _, alt := range []string{"CAD", "AUD", "NZD", "SGD", "HKD", "MXN"} {
			if strings.Contains(text, alt) {
				h.dollar = alt
				break
			}
		}
	}
	for _, alt := range []string{"NOK", "DKK", "SEK"} {
		if strings.Contains(text, alt) {
			h.krone = alt
			break
		}
	}
	h.yuan = yuanText(text)
	return h
}

// currencyCode maps a sign or code as printed to an ISO 4217 code, the
// ambiguous signs as the message's text settles them.
func currencyCode(sign string, h currencyHints) string {
	s := strings.ToLower(strings.TrimSpace(sign))
	if c, ok := symbolCurrency[s]; ok {
		switch {
		case s == "$":
			return h.dollar
		case s == "kr" || s == "kr.":
			return h.krone
		case c == "JPY" && s != "jp¥" && s != "円" && h.yuan:
			return "CNY"
		}
		return c
	}
	return strings.ToUpper(s)
}

// yuanText reports whether a text with a ¥ sign is Chinese rather than
// Japanese: it names the yuan, or it has Han characters and no kana.
func yuanText(text string) bool {
	if strings.Contains(text, "CNY") || strings.Contains(text, "RMB") || strings.Contains(text, "人民币") || strings.Contains(text, "元") {
		return true
	}
	han := false
	for _, r := range text {
		switch {
		case r >= 0x3040 && r <= 0x30ff: // hiragana and katakana
			return false
		case r >= 0x4e00 && r <= 0x9fff:
			han = true
		}
	}
	return han
}

// parseAmount turns a printed number into minor units. The last mark
// followed by one or two digits is the decimal mark; marks followed by
// three digits group thousands. Zero-decimal currencies have no decimal
// mark at all.
func parseAmount(num, currency string) (int64, bool) {
	num = strings.TrimSpace(num)
	digits := make([]byte, 0, len(num))
	frac := ""
	last := strings.LastIndexAny(num, ".,")
	if last >= 0 && !zeroDecimal[currency] {
		tail := num[last+1:]
		if len(tail) == 1 || len(tail) == 2 {
			frac = tail
			num = num[:last]
		}
	}
	for i := 0; i < len(num); i++ {
		if num[i] >= '0' && num[i] <= '9' {
			digits = append(digits, num[i])
		}
	}
	if len(digits) == 0 || len(digits) > 13 {
		return 0, false
	}
	whole, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, false
	}
	if zeroDecimal[currency] {
		return whole, true
	}
	cents := whole * 100
	switch len(frac) {
	case 1:
		cents += int64(frac[0]-'0') * 10
	case 2:
		f, _ := strconv.Atoi(frac)
		cents += int64(f)
	}
	return cents, true
}

// findMoney returns every amount in a line, in order.
func findMoney(line string, h currencyHints) []money {
	var out []money
	for _, m := range moneyPrefixRe.FindAllStringSubmatch(line, -1) {
		sign := m[1]
		if m[4] != "" && (sign == "$" || strings.EqualFold(sign, "kr")) {
			sign = m[4] // "$20.00 CAD": the code says which dollar
		}
		cur := currencyCode(sign, h)
		if c, ok := parseAmount(m[3], cur); ok && m[2] == "" {
			out = append(out, money{c, cur})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range moneySuffixRe.FindAllStringSubmatch(line, -1) {
		cur := currencyCode(m[2], h)
		if c, ok := parseAmount(m[1], cur); ok {
			out = append(out, money{c, cur})
		}
	}
	return out
}

// Total labels, best first: what was charged beats what is due, which
// beats a plain "Total".
var totalLabels = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(?:amount|total) (?:paid|charged)\b|\bpayment amount\b|\bcharged\b|\bbalance paid\b|\bbezahlt\b|\bmontant payé\b`),
	regexp.MustCompile(`(?i)\bgrand total\b|\btotal (?:due|amount|price|\(incl|incl|inkl|ttc)|\bamount due\b|\bbalance due\b|\bgesamtbetrag\b|\brechnungsbetrag\b|\btotal a pagar\b|\bmontant total\b|合計|总计|合计|ご請求金額|請求金額|お支払い金額|应付金额|支付金额`),
	regexp.MustCompile(`(?i)\btotal\b|\bsumme\b|\bgesamt\b|\bimporte total\b|\bmontant\b|\bamount\b|\bprice\b`),
}

// notTotal marks lines that carry a total label but another figure.
var notTotal = regexp.MustCompile(`(?i)sub-?\s?total|zwischensumme|excl(?:uding|\.)?\s|\bexcl\b|before tax|\btax\b(?:\s|:|$)|\bvat\b\s*(?:\(|\d|:)|\bmwst\b|discount|credit|refund|previous balance|\bsaved?\b|\b\d+ ?% (?:off|tax|vat)|ohne|netto|\bnet\b`)

// extractTotal finds the amount charged: the value on the best-labelled
// total line (or the line after it, where a table put it), else the only
// amount in the text.
func extractTotal(lines []string, subject, text string) (money, bool) {
	h := newCurrencyHints(text)
	// Most lines carry no amount: find the ones that do once, and try
	// the labels only on them and the lines just above them.
	amounts := make([][]money, len(lines))
	var all []money
	for i, line := range lines {
		if strings.ContainsAny(line, "0123456789") {
			amounts[i] = findMoney(line, h)
			all = append(all, amounts[i]...)
		}
	}
	for _, label := range totalLabels {
		var found money
		ok := false
		for i, line := range lines {
			next := i+1 < len(lines) && len(amounts[i+1]) > 0
			if len(amounts[i]) == 0 && !next || !label.MatchString(line) || notTotal.MatchString(line) {
				continue
			}
			var ms []money
			if len(amounts[i]) > 0 {
				ms = findMoney(afterLabel(label, line), h)
			}
			if len(ms) == 0 && next && !hasWords(lines[i+1]) {
				ms = amounts[i+1]
			}
			if len(ms) > 0 {
				// The last labelled total wins: summaries end with the
				// grand total.
				found, ok = ms[len(ms)-1], true
			}
		}
		if ok {
			return found, true
		}
	}
	if ms := findMoney(subject, h); len(ms) == 1 {
		return ms[0], true
	}
	if len(all) > 0 {
		same := true
		for _, m := range all[1:] {
			same = same && m == all[0]
		}
		if same {
			return all[0], true
		}
	}
	return money{}, false
}

// afterLabel is the part of line from the label on: the amount of
// "Total $20.00" and not the "$5.00 discount" before it.
func afterLabel(label *regexp.Regexp, line string) string {
	if loc := label.FindStringIndex(line); loc != nil {
		return line[loc[0]:]
	}
	return line
}

// hasWords reports whether a line has letters besides a currency sign or
// code: the line after "Total" must be its amount alone.
func hasWords(line string) bool {
	rest := moneyPrefixRe.ReplaceAllString(line, "")
	rest = moneySuffixRe.ReplaceAllString(rest, "")
	for _, r := range rest {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return true
		}
	}
	return false
}

// Invoice number labels, best first: the invoice's own number, then the
// order, then a receipt or document number.
var invoiceNumberRes = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(?:invoice|rechnung|facture|factura)\s*(?:number|no\.?|num\.?|nummer|nr\.?|n[°º]|id|#)?\s*[:#]?\s*#?\s*([A-Z0-9][A-Z0-9._/-]{2,40}[A-Z0-9])\b`),
	regexp.MustCompile(`(?i)(?:\brechnungsnummer|\bnuméro de facture|請求書番号|发票号码|发票编号|請求番号)\s*[:：]?\s*([A-Z0-9][A-Z0-9._/-]{2,40}[A-Z0-9])\b`),
	regexp.MustCompile(`(?i)\border\s*(?:number|no\.?|id|#)\s*[:#]?\s*#?\s*([A-Z0-9][A-Z0-9._/-]{2,40}[A-Z0-9])\b`),
	regexp.MustCompile(`(?i)(?:\b(?:receipt|document|bill|transaction|reference|booking|folio)\s*(?:number|no\.?|id|#|ref)|收据编号|收據編號|領収書番号|注文番号|订单号)\s*[:#：]?\s*#?\s*([A-Z0-9][A-Z0-9._/-]{2,40}[A-Z0-9])\b`),
}

var subjectNumberRe = regexp.MustCompile(`#\s?([A-Z0-9][A-Z0-9-]{2,40}[A-Z0-9])\b`)

// extractInvoiceNumber finds "Invoice number: 4E0B1C7A-0003", "Invoice
// #ABC-123", "Rechnungsnummer 2026-0042", "Order ID: 6183-1147", then a
// receipt number, then the number a subject carries after '#'. A number
// needs a digit and is not a date.
func extractInvoiceNumber(lines []string, subject string) string {
	for _, re := range invoiceNumberRes {
		for _, src := range append([]string{subject}, lines...) {
			for _, m := range re.FindAllStringSubmatch(src, -1) {
				if hasDigit(m[1]) && !looksLikeDate(m[1]) {
					return m[1]
				}
			}
		}
	}
	if m := subjectNumberRe.FindStringSubmatch(subject); m != nil && hasDigit(m[1]) {
		return m[1]
	}
	return ""
}

func hasDigit(s string) bool {
	return strings.ContainsAny(s, "0123456789")
}

func looksLikeDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

var months = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
	"january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
	"januar": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10, "dezember": 12,
}

const (
	monthName = `(?:jan(?:uary|uar)?|feb(?:ruary|ruar)?|mar(?:ch)?|märz|apr(?:il)?|may|mai|june?|juni|july?|juli|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|oktober|nov(?:ember)?|dec(?:ember)?|dezember)\.?`
	rangeSep  = `\s*(?:–|—|-|to|bis|until|through|thru|au|→|至|～|〜|~)\s*`
)

var (
	// Nov 1 – Nov 30, 2026 / Nov 1, 2026 - Nov 30, 2026 / Nov 1 – 30, 2026
	periodMDY = regexp.MustCompile(`(?i)\b(` + monthName + `)\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?` + rangeSep + `(?:(` + monthName + `)\s+)?(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`)
	// 1 Nov 2026 – 30 Nov 2026 / 1 November – 30 November 2026
	periodDMY = regexp.MustCompile(`(?i)\b(\d{1,2})\.?\s+(` + monthName + `)(?:\s+(\d{4}))?` + rangeSep + `(\d{1,2})\.?\s+(` + monthName + `)\s+(\d{4})\b`)
	// 2026-11-01 to 2026-11-30
	periodISO = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})` + rangeSep + `(\d{4})-(\d{2})-(\d{2})\b`)
	// 01.11.2026 – 30.11.2026 (day first, as Europe writes it)
	periodDots = regexp.MustCompile(`\b(\d{1,2})\.(\d{1,2})\.(\d{4})` + rangeSep + `(\d{1,2})\.(\d{1,2})\.(\d{4})\b`)
	// 11/01/2026 - 11/30/2026 or 04/11/2026 - 03/12/2026: the order
	// that gives a plausible period wins.
	periodSlash = regexp.MustCompile(`\b(\d{1,2})/(\d{1,2})/(\d{4})` + rangeSep + `(\d{1,2})/(\d{1,2})/(\d{4})\b`)
	// 2026年11月10日～2026年12月9日
	periodCJK = regexp.MustCompile(`(\d{4})年(\d{1,2})月(\d{1,2})日` + rangeSep + `(\d{4})年(\d{1,2})月(\d{1,2})日`)
	// 04-Nov-2026 to 03-Dec-2026
	periodDashed = regexp.MustCompile(`(?i)\b(\d{1,2})-(` + monthName + `)-(\d{4})` + rangeSep + `(\d{1,2})-(` + monthName + `)-(\d{4})\b`)
)

func ymd(y, m, d int) (string, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 || y < 1990 || y > 2100 {
		return "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func month(s string) int {
	return int(months[strings.TrimSuffix(strings.ToLower(s), ".")])
}

// extractPeriod finds a billing period and returns it as YYYY-MM-DD.
// dayFirst settles slashed dates that read both ways (04/11/2026).
func extractPeriod(text string, dayFirst bool) (start, end string) {
	ok := func(a, b string, okA, okB bool) (string, string, bool) {
		if okA && okB && a <= b && plausibleSpan(a, b) {
			return a, b, true
		}
		return "", "", false
	}
	if m := periodCJK.FindStringSubmatch(text); m != nil {
		a, okA := ymd(atoi(m[1]), atoi(m[2]), atoi(m[3]))
		b, okB := ymd(atoi(m[4]), atoi(m[5]), atoi(m[6]))
		if s, e, good := ok(a, b, okA, okB); good {
			return s, e
		}
	}
	if m := periodDashed.FindStringSubmatch(text); m != nil {
		a, okA := ymd(atoi(m[3]), month(m[2]), atoi(m[1]))
		b, okB := ymd(atoi(m[6]), month(m[5]), atoi(m[4]))
		if s, e, good := ok(a, b, okA, okB); good {
			return s, e
		}
	}
	if m := periodISO.FindStringSubmatch(text); m != nil {
		a, okA := ymd(atoi(m[1]), atoi(m[2]), atoi(m[3]))
		b, okB := ymd(atoi(m[4]), atoi(m[5]), atoi(m[6]))
		if s, e, good := ok(a, b, okA, okB); good {
			return s, e
		}
	}
	if m := periodMDY.FindStringSubmatch(text); m != nil {
		endYear := atoi(m[6])
		startYear := endYear
		if m[3] != "" {
			startYear = atoi(m[3])
		}
		endMonth := month(m[1])
		if m[4] != "" {
			endMonth = month(m[4])
		}
		if m[3] == "" && month(m[1]) > endMonth {
			startYear-- // Dec 15 – Jan 14, 2027
		}
		a, okA := ymd(startYear, month(m[1]), atoi(m[2]))
		b, okB := ymd(endYear, endMonth, atoi(m[5]))
		if s, e, good := ok(a, b, okA, okB); good {
			return s, e
		}
	}
	if m := periodDMY.FindStringSubmatch(text); m != nil {
		endYear := atoi(m[6])
		startYear := endYear
		if m[3] != "" {
			startYear = atoi(m[3])
		} else if month(m[2]) > month(m[5]) {
			startYear--
		}
		a, okA := ymd(startYear, month(m[2]), atoi(m[1]))
		b, okB := ymd(endYear, month(m[5]), atoi(m[4]))
		if s, e, good := ok(a, b, okA, okB); good {
			return s, e
		}
	}
	if m := periodDots.FindStringSubmatch(text); m != nil {
		a, okA := ymd(atoi(m[3]), atoi(m[2]), atoi(m[1]))
		b, okB := ymd(atoi(m[6]), atoi(m[5]), atoi(m[4]))
		if s, e, good := ok(a, b, okA, okB); good {
			return s, e
		}
	}
	if m := periodSlash.FindStringSubmatch(text); m != nil {
		a, okA := ymd(atoi(m[3]), atoi(m[1]), atoi(m[2]))
		b, okB := ymd(atoi(m[6]), atoi(m[4]), atoi(m[5]))
		da, okDA := ymd(atoi(m[3]), atoi(m[2]), atoi(m[1]))
		db, okDB := ymd(atoi(m[6]), atoi(m[5]), atoi(m[4]))
		ms, me, monthFirst := ok(a, b, okA, okB)
		ds, de, dayFirstOK := ok(da, db, okDA, okDB)
		switch {
		case dayFirstOK && (dayFirst || !monthFirst):
			return ds, de
		case monthFirst:
			return ms, me
		}
	}
	return "", ""
}

// plausibleSpan rejects "periods" longer than a few years: two dates
// that happen to sit either side of a dash.
func plausibleSpan(a, b string) bool {
	ta, err1 := time.Parse("2006-01-02", a)
	tb, err2 := time.Parse("2006-01-02", b)
	return err1 == nil && err2 == nil && tb.Sub(ta) <= 3*366*24*time.Hour
}

// Plan tiers as vendors name them. A plan is reported as its tier word
// alone ("Pro", not "Claude Pro (Monthly)"), so that the same plan reads
// the same across vendors and receipts.
var tierWords = map[string]string{}

func init() {
	for _, w := range []string{"Free", "Hobby", "Starter", "Basic", "Standard", "Plus", "Pro", "Premium", "Team", "Teams",
		"Business", "Enterprise", "Growth", "Scale", "Professional", "Essentials", "Advanced", "Max", "Ultimate", "Ultra",
		"Creator", "Personal", "Individual", "Startup", "Lite", "Unlimited", "Developer", "Launch", "Core", "Solo",
		"Power", "Premier", "Organization", "Family", "Elite", "Agency", "Small Business"} {
		tierWords[strings.ToLower(w)] = w
	}
	// Tiers as Chinese and Japanese receipts print them.
	for w, t := range map[string]string{"团队版": "Teams", "團隊版": "Teams", "专业版": "Pro", "專業版": "Pro", "企业版": "Enterprise",
		"企業版": "Enterprise", "高级版": "Premium", "基础版": "Basic", "标准版": "Standard", "個人版": "Personal", "个人版": "Personal",
		"ビジネス": "Business", "プロ": "Pro", "エンタープライズ": "Enterprise", "スタンダード": "Standard", "ベーシック": "Basic"} {
		tierWords[w] = t
	}
}

var (
	planLabelRe = regexp.MustCompile(`(?i)^\s*(?:plan|subscription plan|your plan|tier|edition|product|produkt|paket|package|produit|forfait|offre|套餐|方案|プラン|料金プラン)\s*[:：]\s*(.{1,60})$`)
	yourPlanRe  = regexp.MustCompile(`(?i)\byour\s+(.{2,50}?)\s+(?:subscription|plan)\b`)
	wordPlanRe  = regexp.MustCompile(`(?i)^(.{1,40}?)\s+plan\b`)
	parenRe     = regexp.MustCompile(`\([^)]*\)?|\[[^\]]*\]?|（[^）]*）?`)
	planNoiseRe = regexp.MustCompile(`(?i)\bplan\b|\bsubscription\b|\bmonthly\b|\bannual(?:ly)?\b|\byearly\b|\bauto-renewing\b|\bbilled\b|\bedition\b`)
	// A line item's plan ends where its quantity or price begins.
	planMoneyRe = regexp.MustCompile(`\s{2,}.*$|\t.*$|:.*$|\s[-–—]\s.*$|\s[x×]\s.*$`)
)

// extractPlan finds the plan tier of a bill: "Plan: Pro (billed
// annually)", "Pro plan", or a line item that is an app or vendor name
// and a tier ("Claude Pro", "Cursor Teams", "Plus Plan (Annual)").
func extractPlan(lines []string, subject string, names []string) string {
	for _, line := range lines {
		if m := planLabelRe.FindStringSubmatch(line); m != nil {
			if p := tierOf(m[1], names, 3); p != "" {
				return p
			}
		}
	}
	for _, line := range append(lines, subject) {
		if first, _, _ := strings.Cut(strings.ToLower(line), " "); notPlanStart[first] {
			continue
		}
		if p := tierOf(line, names, 2); p != "" {
			return p
		}
		if m := wordPlanRe.FindStringSubmatch(line); m != nil {
			if p := namedPlan(m[1], names); p != "" {
				return p
			}
		}
	}
	for _, line := range append([]string{subject}, lines...) {
		for _, m := range yourPlanRe.FindAllStringSubmatch(line, -1) {
			if p := tierOf(m[1], names, 3); p != "" {
				return p
			}
		}
	}
	return ""
}

// Words around a plan's name that are not the name: "CMS Site Plan".
var planFiller = map[string]bool{"site": true, "workspace": true, "account": true, "your": true, "the": true, "a": true, "new": true, "current": true}

// namedPlan is the name of a "<Name> Plan" line item that is no tier
// word: "CMS Site Plan" is CMS. App names and filler words are cut; one
// or two words must be left.
func namedPlan(s string, names []string) string {
	s = parenRe.ReplaceAllString(s, " ")
	var kept []string
	for _, w := range strings.Fields(s) {
		lw := strings.ToLower(strings.Trim(w, ",.:;"))
		if lw == "" || planFiller[lw] || isName(lw, names) {
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 || len(kept) > 2 {
		return ""
	}
	return strings.Join(kept, " ")
}

// Lines that start so are prose, not line items.
var notPlanStart = map[string]bool{"the": true, "your": true, "our": true, "thanks": true, "thank": true, "hi": true,
	"hello": true, "dear": true, "from": true, "to": true, "we": true, "you": true, "if": true, "upgrade": true}

var trialPlanRe = regexp.MustCompile(`(?i)\byour\s+(?:\d+-day\s+)?(.{2,50}?)\s+(?:free\s+)?trial\b|\btrial of\s+(.{2,50}?)\s+(?:ends|expires|is)\b`)

// extractTrialPlan finds what a trial is of: "Your Miro Business trial
// ends" is Business, "Your Sales Hub Professional trial" is Sales Hub
// Professional (only the app's own name is cut).
func extractTrialPlan(subject string, lines []string, appName string) string {
	for _, src := range append([]string{subject}, lines...) {
		m := trialPlanRe.FindStringSubmatch(src)
		if m == nil {
			continue
		}
		p := m[1] + m[2]
		if appName != "" && len(p) > len(appName) && strings.EqualFold(p[:len(appName)], appName) {
			p = p[len(appName):]
		}
		p = strings.TrimSpace(p)
		if p != "" && !strings.EqualFold(p, appName) && !strings.EqualFold(p, "free") && len(strings.Fields(p)) <= 4 {
			return p
		}
	}
	return ""
}

// tierOf returns the tier a short text names, when what is left after
// cutting parentheses, amounts, app names and words such as "plan" and
// "monthly" is one tier word and at most extra other words.
func tierOf(s string, names []string, extra int) string {
	s = planMoneyRe.ReplaceAllString(strings.TrimSpace(s), "")
	s = parenRe.ReplaceAllString(s, " ")
	s = planNoiseRe.ReplaceAllString(s, " ")
	words := strings.Fields(s)
	if len(words) == 0 || len(words) > 4 {
		return ""
	}
	// The tier is the first run of tier words: "Business Standard".
	tier, others, inTier := "", 0, false
	for i := 0; i < len(words); i++ {
		w := strings.Trim(words[i], ",.:;-–—!")
		lw := strings.ToLower(w)
		t := tierWords[lw]
		switch {
		case lw == "":
		case t != "" && (tier == "" || inTier):
			if tier != "" {
				tier += " "
			}
			tier += t
			inTier = true
			continue
		case isName(lw, names):
		default:
			others++
		}
		inTier = false
	}
	if tier == "" || others > extra {
		return ""
	}
	return tier
}

func isName(w string, names []string) bool {
	for _, n := range names {
		for _, part := range strings.Fields(strings.ToLower(n)) {
			if w == strings.Trim(part, ",.:;()") {
				return true
			}
		}
	}
	return false
}

var (
	seatsRe  = regexp.MustCompile(`(?i)\b(\d{1,6})\s*(?:active\s+)?(?:seats?|users?|members?|licen[cs]es?|editors?|agents?|hosts?|active users?)\b`)
	qtyRe    = regexp.MustCompile(`(?i)(?:\b(?:qty|quantity|seats|users|members|licen[cs]es|anzahl(?: lizenzen| benutzer| nutzer)?|menge|licences|utilisateurs|mitarbeitende|mitarbeiter|nutzer|benutzer)\b|成员数|成員數|用户数|人数|ライセンス数|ユーザー数|席数)\.?\s*[:：]?\s*(\d{1,6})\b`)
	timesRe  = regexp.MustCompile(`\b(\d{1,6})\s*[×x]\s*[\p{Lu}]`)
	timesRe2 = regexp.MustCompile(`[\p{L})]\s*[×x]\s*(\d{1,6})\b`)
)

// extractSeats finds a seat count: "12 seats", "Qty 12", "12 × Pro",
// or the figure under a Qty or Units column of a line-item table.
func extractSeats(lines []string) int {
	if n := seatsColumn(lines); n > 0 {
		return n
	}
	for _, re := range []*regexp.Regexp{seatsRe, qtyRe, timesRe, timesRe2} {
		for _, line := range lines {
			if m := re.FindStringSubmatch(line); m != nil {
				if n := atoi(m[1]); n > 0 {
					return n
				}
			}
		}
	}
	return 0
}

var (
	qtyHeaderRe = regexp.MustCompile(`(?i)^(.*?\S\s{2,})(qty|quantity|units|seats|users)\s{2,}`)
	wordRe      = regexp.MustCompile(`\S+`)
)

// seatsColumn reads a plain-text line-item table whose header has a Qty
// or Units column: the figure that starts in that column on the line
// below.
func seatsColumn(lines []string) int {
	for i, line := range lines {
		m := qtyHeaderRe.FindStringSubmatchIndex(line)
		if m == nil || i+1 >= len(lines) {
			continue
		}
		col := m[4]
		for _, loc := range wordRe.FindAllStringIndex(lines[i+1], -1) {
			if loc[0] > col+2 {
				break
			}
			if loc[1] >= col-2 && loc[0] <= col+4 {
				if n := atoi(lines[i+1][loc[0]:loc[1]]); n > 0 && n < 1000000 {
					return n
				}
			}
		}
	}
	return 0
}
