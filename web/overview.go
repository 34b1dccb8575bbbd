package web

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/shadowmap/shadowmap/collector/inventory"
)

// overviewListed is how many apps each overview list shows; each links
// to the full, filtered inventory.
const overviewListed = 10

// overviewMonths and overviewWeeks are the spans of the two bar charts.
const (
	overviewMonths = 12
	overviewWeeks  = 12
	// overviewCurrencies caps the spend charts: one per currency, most
	// spent first.
	overviewCurrencies = 3
)

// overviewData is what overview.html shows.
type overviewData struct {
	Apps       int // every app in the inventory
	FoundKnown foundKnown
	Figure     template.HTML

	NewThisWeek  []inventory.AppRow
	NewTotal     int
	Outside      []inventory.AppRow // outside the IdP, most people first
	OutsideTotal int
	Risky        []inventory.AppRow // risky OAuth grants, most people first
	RiskyTotal   int

	Spend          []spendChart
	MoreCurrencies int
	Discoveries    template.HTML
	DiscoveredNow  int // apps first seen within the charted weeks
}

// spendChart is one currency's spend by month.
type spendChart struct {
	Currency string
	Total    int64 // over the charted months, in cents
	Chart    template.HTML
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, sess session) {
	// Sorted by people, so the lists below come out in that order.
	rows, err := s.allApps(r.Context(), inventory.Query{Sort: inventory.SortPeople})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := buildOverview(rows, s.opts.Now().UTC())
	s.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

// buildOverview sums up the inventory; rows are sorted by people.
func buildOverview(rows []inventory.AppRow, now time.Time) overviewData {
	d := overviewData{Apps: len(rows)}
	var fresh []inventory.AppRow
	for _, a := range rows {
		used := hasUsage(a)
		switch {
		case used && a.InsideIdP:
			d.FoundKnown.Both++
		case used:
			d.FoundKnown.OutsideOnly++
		case a.InsideIdP:
			d.FoundKnown.IdPOnly++
		}
		if a.HasFlag(inventory.FlagNewThisWeek) {
			fresh = append(fresh, a)
		}
		if a.HasFlag(inventory.FlagOutsideIdP) {
			d.OutsideTotal++
			if len(d.Outside) < overviewListed {
				d.Outside = append(d.Outside, a)
			}
		}
		if a.HasFlag(inventory.FlagRiskyOAuth) {
			d.RiskyTotal++
			if len(d.Risky) < overviewListed {
				d.Risky = append(d.Risky, a)
			}
		}
	}
	d.Figure = d.FoundKnown.figure()
	// The newest first: that is what "new this week" is about.
	slices.SortStableFunc(fresh, func(a, b inventory.AppRow) int { return b.FirstSeen.Compare(a.FirstSeen) })
	d.NewTotal = len(fresh)
	d.NewThisWeek = fresh[:min(len(fresh), overviewListed)]
	d.Spend, d.MoreCurrencies = spendCharts(rows, now)
	d.Discoveries, d.DiscoveredNow = discoveriesChart(rows, now)
	return d
}

// hasUsage reports whether any evidence of the row shows someone using
// the app (not only paying for it or configuring it).
func hasUsage(a inventory.AppRow) bool {
	for src, n := range a.Evidence {
		if n > 0 && src.IsUsage() {
			return true
		}
	}
	return false
}

// spendCharts sums every app's spend per currency and month over the
// last overviewMonths months, the current one included, and draws one
// chart per currency, the most spent first.
func spendCharts(rows []inventory.AppRow, now time.Time) ([]spendChart, int) {
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1-overviewMonths, 0)
	months := make([]time.Time, overviewMonths)
	index := make(map[string]int, overviewMonths)
	for i := range months {
		months[i] = first.AddDate(0, i, 0)
		index[months[i].Format("2006-01")] = i
	}
	sums := map[string][]int64{}
	for _, a := range rows {
		for _, ms := range a.Spend {
			i, ok := index[ms.Month]
			if !ok {
				continue
			}
			for _, m := range ms.Amounts {
				if sums[m.Currency] == nil {
					sums[m.Currency] = make([]int64, overviewMonths)
				}
				sums[m.Currency][i] += m.Cents
			}
		}
	}
	var charts []spendChart
	for cur, byMonth := range sums {
		var total int64
		for _, c := range byMonth {
			total += c
		}
		if total > 0 {
			charts = append(charts, spendChart{Currency: cur, Total: total})
		}
	}
	slices.SortFunc(charts, func(a, b spendChart) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(a.Currency, b.Currency)
	})
	more := max(0, len(charts)-overviewCurrencies)
	charts = charts[:min(len(charts), overviewCurrencies)]
	for i := range charts {
		c := &charts[i]
		bars := make([]bar, overviewMonths)
		for j, m := range months {
			cents := sums[c.Currency][j]
			bars[j] = bar{Label: m.Format("Jan"), Value: cents, Text: shortMoney(cents),
				Tip: m.Format("January 2006") + ": " + moneyText(cents, c.Currency)}
		}
		c.Chart = barChart("Spend in "+c.Currency+" by month", bars)
	}
	return charts, more
}

// shortMoney writes an amount in whole units, in thousands or millions
// when large, so it fits above a bar: 950, 12.3k, 1.2M.
func shortMoney(cents int64) string {
	units := cents / 100
	switch {
	case units >= 1_000_000:
		return oneDecimal(float64(units)/1_000_000) + "M"
	case units >= 10_000:
		return oneDecimal(float64(units)/1_000) + "k"
	}
	return thousands(units)
}

// discoveriesChart counts the apps first seen in each of the last
// overviewWeeks weeks (Monday to Sunday, UTC), this week included.
func discoveriesChart(rows []inventory.AppRow, now time.Time) (template.HTML, int) {
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	first := monday.AddDate(0, 0, -7*(overviewWeeks-1))
	counts := make([]int64, overviewWeeks)
	total := 0
	for _, a := range rows {
		if a.FirstSeen.IsZero() || a.FirstSeen.Before(first) {
			continue
		}
		i := int(a.FirstSeen.Sub(first) / (7 * 24 * time.Hour))
		if i >= overviewWeeks {
			continue // a clock ahead of ours
		}
		counts[i]++
		total++
	}
	bars := make([]bar, overviewWeeks)
	for i := range bars {
		start := first.AddDate(0, 0, 7*i)
		n := counts[i]
		bars[i] = bar{Label: start.Format("Jan 2"), Value: n, Text: thousands(n),
			Tip: fmt.Sprintf("Week of %s: %d new %s", start.Format("2 January 2006"), n, plural(int(n), "app", "apps"))}
	}
	return barChart("Apps discovered per week", bars), total
}
