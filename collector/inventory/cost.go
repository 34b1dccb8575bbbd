package inventory

import "math"

// CostModel is the yearly cost of managing one app's accounts by hand
// (joiners, leavers, licence clean-up, access reviews) at a company of
// BasisPeople employees.
//
// The default figures come from public SCIM guides, as collected in the
// project's reference notes (shared/reference/manual-cost-model.md: "Cost of
// managing one app's accounts by hand", aggregate per app normalised to 500
// employees, for apps without automated provisioning): 101 IT hours, $6,088
// IT labour, $3,925 unused licences and $1,741 compliance misses a year,
// $11,754 in total; 7 orphaned accounts and 12 unused licences.
//
// Scaling: every figure is linear in the number of accounts the app has,
// relative to BasisPeople, because account work, forgotten licences and
// leavers' access all grow with the accounts. An app used by a handful of
// people still needs a leaver checklist and an access review, so the
// account count is floored at MinPeople before scaling.
type CostModel struct {
	// BasisPeople is the company size the figures are normalised to.
	BasisPeople int
	// MinPeople floors the account count: the fixed part of managing any
	// app by hand.
	MinPeople int

	ITHours            float64 // IT hours a year on manual account work
	LabourCents        int64   // IT labour cost a year, US cents
	UnusedLicenceCents int64   // unused licence cost a year, US cents
	ComplianceCents    int64   // cost of compliance misses a year, US cents
	OrphanedAccounts   float64 // people who left and still have access
	UnusedLicences     float64 // licences paid for and not used
}

// CostCurrency is the currency of the cost model's figures.
const CostCurrency = "USD"

// DefaultCostModel returns the published figures described on CostModel,
// with a floor of 25 accounts (5% of the basis).
func DefaultCostModel() CostModel {
	return CostModel{
		BasisPeople:        500,
		MinPeople:          25,
		ITHours:            101,
		LabourCents:        6_088_00,
		UnusedLicenceCents: 3_925_00,
		ComplianceCents:    1_741_00,
		OrphanedAccounts:   7,
		UnusedLicences:     12,
	}
}

// TotalCents is the model's yearly cost per app at BasisPeople.
func (m CostModel) TotalCents() int64 {
	return m.LabourCents + m.UnusedLicenceCents + m.ComplianceCents
}

// ManualCost is the cost model scaled to one app's accounts.
type ManualCost struct {
	// Accounts is the number of accounts the figures were scaled to: the
	// people (or devices, when more) seen using the app, at least the
	// model's floor.
	Accounts           int     `json:"accounts"`
	ITHours            float64 `json:"it_hours"`
	LabourCents        int64   `json:"labour_cents"`
	UnusedLicenceCents int64   `json:"unused_licence_cents"`
	ComplianceCents    int64   `json:"compliance_cents"`
	TotalCents         int64   `json:"total_cents"`
	OrphanedAccounts   float64 `json:"orphaned_accounts"`
	UnusedLicences     float64 `json:"unused_licences"`
	Currency           string  `json:"currency"`
}

// ForAccounts scales the model to an app with the given number of
// accounts. Hours and account counts are rounded to one decimal, money to
// the cent; the total is the sum of the rounded parts so it always adds up.
func (m CostModel) ForAccounts(accounts int) ManualCost {
	n := max(accounts, m.MinPeople, 0)
	var f float64
	if m.BasisPeople > 0 {
		f = float64(n) / float64(m.BasisPeople)
	}
	c := ManualCost{
		Accounts:           n,
		ITHours:            round1(m.ITHours * f),
		LabourCents:        scaleCents(m.LabourCents, f),
		UnusedLicenceCents: scaleCents(m.UnusedLicenceCents, f),
		ComplianceCents:    scaleCents(m.ComplianceCents, f),
		OrphanedAccounts:   round1(m.OrphanedAccounts * f),
		UnusedLicences:     round1(m.UnusedLicences * f),
		Currency:           CostCurrency,
	}
	c.TotalCents = c.LabourCents + c.UnusedLicenceCents + c.ComplianceCents
	return c
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func scaleCents(cents int64, f float64) int64 { return int64(math.Round(float64(cents) * f)) }
