package google

import (
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

func TestParseExportTime(t *testing.T) {
	want := time.Date(2026, 11, 12, 9, 15, 2, 0, time.UTC)
	for _, in := range []string{
		"2026-11-12T09:15:02Z",
		"2026-11-12T10:15:02+01:00",
		" 2026-11-12 09:15:02 ",
		"2026-11-12T09:15:02",
		"Nov 12, 2026, 9:15:02 AM UTC",
	} {
		got, ok := parseExportTime(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseExportTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2026-13-40"} {
		if _, ok := parseExportTime(in); ok {
			t.Errorf("parseExportTime(%q) accepted", in)
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
