package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a retention period. It is written either in calendar units,
// "90d" (days), "2w" (weeks), "13mo" (months) or "1y" (years), or as a Go
// duration such as "36h". Calendar units are counted on the calendar
// (time.AddDate), so "13mo" on 15 June 2025 reaches back to 15 May 2024
// and "90d" always means 90 midnights, whatever the month lengths; a
// month is never approximated as 30 days.
type Period struct {
	months int
	days   int
	exact  time.Duration
}

// Days returns a period of n calendar days.
func Days(n int) Period { return Period{days: n} }

// Months returns a period of n calendar months.
func Months(n int) Period { return Period{months: n} }

// PeriodOf returns a period of exactly d.
func PeriodOf(d time.Duration) Period { return Period{exact: d} }

// ParsePeriod reads "90d", "2w", "13mo", "1y" or a Go duration ("36h").
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Period{}, errors.New("empty period")
	}
	for _, u := range []struct {
		suffix       string
		months, days int
	}{
		{"mo", 1, 0},
		{"y", 12, 0},
		{"w", 0, 7},
		{"d", 0, 1},
	} {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok || num == "" || !isDigits(num) {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > 100000 {
			return Period{}, fmt.Errorf("period %q is too long", s)
		}
		return Period{months: n * u.months, days: n * u.days}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Period{}, fmt.Errorf("period %q: want days (90d), weeks (2w), months (13mo), years (1y) or a duration (36h)", s)
	}
	return Period{exact: d}, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Cutoff returns now minus the period: what is older than the cutoff is
// past retention.
func (p Period) Cutoff(now time.Time) time.Time {
	return now.AddDate(0, -p.months, -p.days).Add(-p.exact)
}

// Positive reports whether the period reaches back at all.
func (p Period) Positive() bool {
	ref := referenceTime()
	return p.Cutoff(ref).Before(ref)
}

// Shorter reports whether p reaches less far back than q.
func (p Period) Shorter(q Period) bool {
	ref := referenceTime()
	return p.Cutoff(ref).After(q.Cutoff(ref))
}

// referenceTime is a fixed instant for comparing periods: the last day of
// a long month, so month arithmetic shows its worst case.
func referenceTime() time.Time { return time.Date(2024, time.March, 31, 0, 0, 0, 0, time.UTC) }

// String writes the period the way ParsePeriod reads it.
func (p Period) String() string {
	switch {
	case p.months != 0 && p.days == 0 && p.exact == 0:
		if p.months%12 == 0 {
			return strconv.Itoa(p.months/12) + "y"
		}
		return strconv.Itoa(p.months) + "mo"
	case p.days != 0 && p.months == 0 && p.exact == 0:
		return strconv.Itoa(p.days) + "d"
	case p.months == 0 && p.days == 0:
		return p.exact.String()
	}
	// Not made by ParsePeriod; shown in full rather than rounded.
	return fmt.Sprintf("%dmo%dd%s", p.months, p.days, p.exact)
}

// MarshalText writes the period as ParsePeriod reads it.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a period with ParsePeriod.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
