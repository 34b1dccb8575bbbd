package google

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

func TestParseExportTime(t *testing.T) {
	want := time.Date(2026, 11, 12, 9, 15, 2, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in       string
		zoneless *time.Location
		want     time.Time
		err      error // nil: accepted
	}{
		// The offset is in the value.
		{"2026-11-12T09:15:02Z", nil, want, nil},
		{"2026-11-12T10:15:02+01:00", nil, want, nil},
		{"2026-11-12T09:15:02.000Z", nil, want, nil},
		{" 2026-11-12 01:15:02-08:00 ", nil, want, nil},
		{"2026-11-12T10:15:02+0100", nil, want, nil},
		{"2026-11-12 10:15:02 +0100", nil, want, nil},
		{"2026-11-12 04:45:02 -04:30", nil, want, nil},
		{"Nov 12, 2026, 9:15:02 AM UTC", nil, want, nil},
		{"Nov 12, 2026, 9:15:02 AM GMT", nil, want, nil},
		{"Nov 12, 2026, 10:15:02 AM GMT+1", nil, want, nil},
		{"Nov 12, 2026, 1:15:02 AM GMT-08:00", nil, want, nil},
		{"Nov 12, 2026, 2:45:02 PM UTC+05:30", nil, want, nil},
		{"2026-11-12 09:15:02 Z", nil, want, nil},
		// An offset in the value wins over the zone for zone-less times.
		{"2026-11-12T09:15:02Z", berlin, want, nil},
		// Zone-less: read in the zone the file names, else refused.
		{"2026-11-12 09:15:02", time.UTC, want, nil},
		{"2026-11-12T10:15:02", berlin, want, nil},
		{"Nov 12, 2026, 9:15:02 AM", time.UTC, want, nil},
		{"2026-11-12 09:15:02", nil, time.Time{}, errUnknownOffset},
		{"2026-11-12T09:15:02", nil, time.Time{}, errUnknownOffset},
		{"Nov 12, 2026, 9:15:02 AM", nil, time.Time{}, errUnknownOffset},
		{"11/12/2026 09:15:02", nil, time.Time{}, errUnknownOffset},
		// Abbreviations do not say their offset, whatever the file says.
		{"Nov 12, 2026, 1:15:02 AM PST", nil, time.Time{}, errUnknownOffset},
		{"Nov 12, 2026, 10:15:02 AM CET", nil, time.Time{}, errUnknownOffset},
		{"2026-11-12 14:45:02 IST", time.UTC, time.Time{}, errUnknownOffset},
		{"2026-11-12 09:15:02 GMT+25", nil, time.Time{}, errUnknownOffset},
		// No date at all: the row is skipped, not the file.
		{"", nil, time.Time{}, errNotATime},
		{"yesterday", nil, time.Time{}, errNotATime},
		{"2026-13-40", time.UTC, time.Time{}, errNotATime},
		{"last PST", nil, time.Time{}, errNotATime},
	}
	for _, tt := range tests {
		// A nil *time.Location prints as UTC: name it for what it means.
		zone := "no zone"
		if tt.zoneless != nil {
			zone = tt.zoneless.String()
		}
		got, err := parseExportTime(tt.in, tt.zoneless)
		switch {
		case tt.err == nil && (err != nil || !got.Equal(tt.want) || got.Location() != time.UTC):
			t.Errorf("parseExportTime(%q, %s) = %v, %v; want %v", tt.in, zone, got, err, tt.want)
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("parseExportTime(%q, %s) = %v, %v; want error %v", tt.in, zone, got, err, tt.err)
		}
	}
}

func TestCells(t *testing.T) {
	if got := usersCell("14"); got != nil {
		t.Errorf("usersCell(count) = %v", got)
	}
	if got := usersCell("Alice@Acme.example; bob@acme.example,\nnot-an-email"); !slices.Equal(got, []string{"alice@acme.example", "bob@acme.example"}) {
		t.Errorf("usersCell = %v", got)
	}
	got := scopesInText("a@b.example authorized access to Notion for https://www.googleapis.com/auth/drive.readonly, openid and email scopes.")
	if !slices.Equal(got, []string{"email", "https://www.googleapis.com/auth/drive.readonly", "openid"}) {
		t.Errorf("scopesInText = %v", got)
	}
	if got := cleanScopes([]string{"b a", "a,c", ""}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("cleanScopes = %v", got)
	}
}

// TestBatchMerge checks the merging that keeps repeated grants cheap: the
// first grant time, the latest scopes, and the latest revoke win.
func TestBatchMerge(t *testing.T) {
	t1, t2, t3 := testNow.Add(-3*time.Hour), testNow.Add(-2*time.Hour), testNow.Add(-time.Hour)
	b := newBatch()
	b.addGrant(collector.OAuthGrant{Person: "a@x.example", ClientID: "c", Scopes: []string{"new"}, GrantedAt: t2, SeenAt: t2})
	b.addGrant(collector.OAuthGrant{Person: "a@x.example", ClientID: "c", Scopes: []string{"old"}, GrantedAt: t1, SeenAt: t1})
	b.addGrant(collector.OAuthGrant{Person: "b@x.example", ClientID: "c", GrantedAt: t1, SeenAt: t1})
	if len(b.grants) != 2 || !b.grants[0].GrantedAt.Equal(t1) || !b.grants[0].SeenAt.Equal(t2) || b.grants[0].Scopes[0] != "new" {
		t.Errorf("merged grants = %+v", b.grants)
	}
	b.addRevoke(event{Person: "a@x.example", ClientID: "c", Time: t3})
	b.addRevoke(event{Person: "a@x.example", ClientID: "c", Time: t1})
	if len(b.revokes) != 1 || !b.revokes[grantKey{"a@x.example", "c"}].Time.Equal(t3) {
		t.Errorf("revokes = %+v", b.revokes)
	}
}
