package inventory

import "testing"

func TestDefaultCostModelMatchesItsSource(t *testing.T) {
	m := DefaultCostModel()
	// The published per-app total at 500 employees is $11,754.
	if got := m.TotalCents(); got != 11_754_00 {
		t.Errorf("total %d cents, want 1175400", got)
	}
	at500 := m.ForAccounts(500)
	want := ManualCost{
		Accounts: 500, ITHours: 101, LabourCents: 6_088_00, UnusedLicenceCents: 3_925_00, ComplianceCents: 1_741_00,
		TotalCents: 11_754_00, OrphanedAccounts: 7, UnusedLicences: 12, Currency: "USD",
	}
	if at500 != want {
		t.Errorf("at 500 accounts\n got %+v\nwant %+v", at500, want)
	}
}

func TestCostScaling(t *testing.T) {
	m := DefaultCostModel()
	tests := []struct {
		name     string
		accounts int
		want     ManualCost
	}{
		{"double the basis doubles everything", 1000, ManualCost{Accounts: 1000, ITHours: 202, LabourCents: 12_176_00, UnusedLicenceCents: 7_850_00, ComplianceCents: 3_482_00, TotalCents: 23_508_00, OrphanedAccounts: 14, UnusedLicences: 24, Currency: "USD"}},
		{"small apps are floored at 25 accounts", 3, ManualCost{Accounts: 25, ITHours: 5.1, LabourCents: 304_40, UnusedLicenceCents: 196_25, ComplianceCents: 87_05, TotalCents: 587_70, OrphanedAccounts: 0.4, UnusedLicences: 0.6, Currency: "USD"}},
		{"no accounts seen is the floor too", 0, m.ForAccounts(25)},
		{"rounding: parts add up to the total", 123, ManualCost{Accounts: 123, ITHours: 24.8, LabourCents: 1_497_65, UnusedLicenceCents: 965_55, ComplianceCents: 428_29, TotalCents: 2_891_49, OrphanedAccounts: 1.7, UnusedLicences: 3, Currency: "USD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.ForAccounts(tt.accounts)
			if got != tt.want {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if got.TotalCents != got.LabourCents+got.UnusedLicenceCents+got.ComplianceCents {
				t.Errorf("parts do not add up: %+v", got)
			}
		})
	}
}

func TestCustomCostModel(t *testing.T) {
	m := CostModel{BasisPeople: 100, ITHours: 10, LabourCents: 1000_00}
	got := m.ForAccounts(50)
	if got.Accounts != 50 || got.ITHours != 5 || got.LabourCents != 500_00 || got.TotalCents != 500_00 {
		t.Errorf("got %+v", got)
	}
	usage, states, _ := fixture()
	inv := New(loadCatalog(t), usage, states, Options{Clock: fixedClock, CostModel: m})
	if c := allApps(t, inv)["chat"].Readiness.ManualCost; c.LabourCents != 450_00 {
		t.Errorf("the inventory ignores its cost model: %+v", c)
	}
}
