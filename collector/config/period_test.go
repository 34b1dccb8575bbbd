package config

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in      string
		want    Period
		str     string
		wantErr bool
	}{
		{in: "90d", want: Days(90), str: "90d"},
		{in: " 90d ", want: Days(90), str: "90d"},
		{in: "2w", want: Days(14), str: "14d"},
		{in: "13mo", want: Months(13), str: "13mo"},
		{in: "24mo", want: Months(24), str: "2y"},
		{in: "1y", want: Months(12), str: "1y"},
		{in: "36h", want: PeriodOf(36 * time.Hour), str: "36h0m0s"},
		{in: "1h30m", want: PeriodOf(90 * time.Minute), str: "1h30m0s"},
		{in: "13m", want: PeriodOf(13 * time.Minute), str: "13m0s"}, // minutes: Validate refuses it
		{in: "0d", want: Days(0), str: "0s"},
		{in: "", wantErr: true},
		{in: "90", wantErr: true},
		{in: "d", wantErr: true},
		{in: "mo", wantErr: true},
		{in: "-5d", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "90D", wantErr: true},
		{in: "ninety days", wantErr: true},
		{in: "99999999999999999999d", wantErr: true},
		{in: "100001y", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParsePeriod(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if got.String() != tt.str {
			t.Errorf("ParsePeriod(%q).String() = %q, want %q", tt.in, got.String(), tt.str)
		}
		again, err := ParsePeriod(got.String())
		if err != nil || again.Cutoff(referenceTime()) != got.Cutoff(referenceTime()) {
			t.Errorf("%q does not read back: %v, %v", got.String(), again, err)
		}
	}
}

func TestPeriodCutoff(t *testing.T) {
	now := time.Date(2025, time.June, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		p    Period
		want time.Time
	}{
		{Days(90), time.Date(2025, time.March, 17, 12, 0, 0, 0, time.UTC)},
		{Months(13), time.Date(2024, time.May, 15, 12, 0, 0, 0, time.UTC)},
		{Months(12), time.Date(2024, time.June, 15, 12, 0, 0, 0, time.UTC)},
		{PeriodOf(36 * time.Hour), time.Date(2025, time.June, 14, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := tt.p.Cutoff(now); !got.Equal(tt.want) {
			t.Errorf("%v.Cutoff(%v) = %v, want %v", tt.p, now, got, tt.want)
		}
	}
}

func TestPeriodCompare(t *testing.T) {
	tests := []struct {
		p, q    Period
		shorter bool
	}{
		{Days(30), Days(90), true},
		{Days(90), Days(90), false},
		{Months(13), Days(90), false},
		{Days(90), Months(3), true}, // three months reach further back than 90 days from 31 March
		{PeriodOf(48 * time.Hour), Days(1), false},
		{Period{}, Days(1), true},
	}
	for _, tt := range tests {
		if got := tt.p.Shorter(tt.q); got != tt.shorter {
			t.Errorf("%v.Shorter(%v) = %v, want %v", tt.p, tt.q, got, tt.shorter)
		}
	}
	if (Period{}).Positive() || PeriodOf(-time.Hour).Positive() || !Days(1).Positive() {
		t.Error("Positive is wrong")
	}
}

// TestYAMLRoundTrip: a Config written as YAML (secrets aside) reads back
// the same, so the tags, periods and durations agree in both directions.
func TestYAMLRoundTrip(t *testing.T) {
	want := Default()
	want.Retention.Evidence = Days(30)
	want.Retention.Aggregates = Months(24)
	want.EmailDomain = "example.com"
	data, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Config
	if problems := decodeFile(data, "roundtrip.yaml", &got); len(problems) != 0 {
		t.Fatalf("decode %s: %v", data, problems)
	}
	got.origin = nil
	if got.Listen != want.Listen || got.Database != want.Database || got.Retention != want.Retention ||
		got.ShutdownTimeout != want.ShutdownTimeout || got.Ingest != want.Ingest || got.EmailDomain != want.EmailDomain {
		t.Errorf("round trip:\n%s\ngot  %+v\nwant %+v", data, got, want)
	}
}
