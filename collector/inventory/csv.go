package inventory

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// CSVHeader is the inventory export's columns, shared by the API's
// /api/v1/export/apps.csv and the web view's /apps.csv so a spreadsheet
// built on one reads the other.
func CSVHeader() []string {
	return []string{
		"id", "name", "vendor", "category", "status", "status_by", "status_at", "status_why",
		"inside_idp", "idp", "people", "devices", "first_seen", "last_seen", "sources", "tenants",
		"flags", "last_month", "last_month_spend", "sso", "sso_tier", "scim", "scim_tier", "jit",
		"next_step", "manual_cost_per_year_usd",
	}
}

// WriteCSV writes the header and one record per row. Cells that hold text
// from outside (names, tenants, reasons) are defused with CSVSafe.
func WriteCSV(w io.Writer, rows []AppRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	for _, a := range rows {
		if err := cw.Write(CSVRecord(a)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVRecord is one row of the export, in CSVHeader's order.
func CSVRecord(a AppRow) []string {
	var sources, flags, spend []string
	for _, src := range collector.Sources() {
		if n := a.Evidence[src]; n > 0 {
			sources = append(sources, fmt.Sprintf("%s:%d", src, n))
		}
	}
	for _, f := range a.Flags {
		flags = append(flags, string(f.Flag))
	}
	for _, m := range a.LastMonthSpend {
		spend = append(spend, fmt.Sprintf("%s %d.%02d", m.Currency, m.Cents/100, m.Cents%100))
	}
	rd := a.Readiness
	return []string{
		CSVSafe(a.ID), CSVSafe(a.Name), CSVSafe(a.Vendor), CSVSafe(a.Category), string(a.Status), CSVSafe(a.StatusBy),
		csvTime(a.StatusAt), CSVSafe(a.StatusWhy), strconv.FormatBool(a.InsideIdP), CSVSafe(a.IdP),
		strconv.Itoa(a.People), strconv.Itoa(a.Devices), csvTime(a.FirstSeen), csvTime(a.LastSeen),
		strings.Join(sources, " "), CSVSafe(strings.Join(a.Tenants, " ")), strings.Join(flags, " "),
		a.LastMonth, CSVSafe(strings.Join(spend, " ")), rd.SSO, CSVSafe(rd.SSOTier), rd.SCIM, CSVSafe(rd.SCIMTier), rd.JIT,
		CSVSafe(rd.NextStep), strconv.FormatInt(rd.ManualCost.TotalCents/100, 10),
	}
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// CSVSafe defuses spreadsheet formulas: a cell that a spreadsheet would
// evaluate (=, +, -, @, tab, CR) gets a leading apostrophe. Tenant names
// and reasons come from outside.
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// AllApps lists every app matching q's filters in q's order, from one read
// of the store: the CSV exports and the web overview need every row, and
// paging through Apps would read the store once per page. q's Page and
// Limit are ignored.
func (inv *Inventory) AllApps(ctx context.Context, q Query) ([]AppRow, error) {
	q.Page, q.Limit = 0, 0
	_, matched, err := inv.matching(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]AppRow, 0, len(matched))
	for _, r := range matched {
		out = append(out, inv.finish(r))
	}
	return out, nil
}
