package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// The importers' stores: checkpoints, source runs, IdP app lists and
// current OAuth grants. Rules every store keeps beyond the interfaces:
//   - SourceHealth is sorted by source; Failures counts failed runs since
//     the last success.
//   - IdPApps is sorted by IdP, then name.
//   - Persons in grants are stored lowercase; scopes sorted and distinct.
//   - An active IdP app mapped to a catalog app makes AppStates report the
//     app inside that IdP (status unreviewed if IT decided nothing), unless
//     IT recorded another IdP.

func testCheckpoints(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	if _, ok, err := s.Checkpoint(ctx, "okta", "logs"); err != nil || ok {
		t.Fatalf("checkpoint of a fresh store: ok=%v err=%v", ok, err)
	}
	for _, v := range []string{"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"} {
		if err := s.SetCheckpoint(ctx, "okta", "logs", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetCheckpoint(ctx, "google", "logs", "other"); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Checkpoint(ctx, "okta", "logs")
	if err != nil || !ok || v != "2026-11-02T00:00:00Z" {
		t.Fatalf("checkpoint = %q, %v, %v", v, ok, err)
	}
	if err := s.SetCheckpoint(ctx, "", "logs", "x"); err == nil {
		t.Error("a checkpoint without a source was stored")
	}
}

func testSourceRuns(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	runs := []collector.SourceRun{
		{Source: "okta", StartedAt: at(0), FinishedAt: at(1), Events: 10, Imported: 7},
		{Source: "google", StartedAt: at(0), FinishedAt: at(1), Error: "403: missing scope"},
		{Source: "okta", StartedAt: at(2), FinishedAt: at(3), Events: 5, Imported: 2},
		{Source: "google", StartedAt: at(2), FinishedAt: at(3), Error: "403: missing scope"},
		{Source: "okta", StartedAt: at(4), FinishedAt: at(5), Events: 1, Error: "429: rate limited"},
		{Source: "mail", StartedAt: at(0), FinishedAt: at(2), Events: 40, Imported: 3, Skipped: map[string]int64{"too_large": 2, "unreadable": 1}},
	}
	for _, r := range runs {
		if err := s.RecordSourceRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SourceHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []collector.SourceHealth{
		{Source: "google", LastRun: at(3), LastError: "403: missing scope", Runs: 2, Failures: 2},
		{Source: "mail", LastRun: at(2), LastSuccess: at(2), LastEvents: 40, LastImported: 3, LastSkipped: map[string]int64{"too_large": 2, "unreadable": 1}, TotalImported: 3, Runs: 1},
		{Source: "okta", LastRun: at(5), LastSuccess: at(3), LastError: "429: rate limited", LastEvents: 1, TotalImported: 9, Runs: 3, Failures: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("source health\n got %+v\nwant %+v", got, want)
	}
}

func testIdPApps(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	okta := []collector.IdPApp{
		{IdP: "okta", ExternalID: "0oa1", Name: "Slack", Protocol: "saml", Provisioning: true, Active: true, URLs: []string{"https://acme.slack.com/sso/saml"}, AppID: "slack", MappedBy: "domain", SeenAt: at(0)},
		{IdP: "okta", ExternalID: "0oa2", Name: "Our Wiki", Protocol: "oidc", Active: true, SeenAt: at(0)},
		{IdP: "okta", ExternalID: "0oa3", Name: "Old CRM", Protocol: "swa", Active: false, AppID: "pipedrive", MappedBy: "name", SeenAt: at(0)},
	}
	if err := s.ReplaceIdPApps(ctx, "okta", okta, at(0)); err != nil {
		t.Fatal(err)
	}
	// IT maps the wiki by hand; the next import does not undo it.
	if err := s.MapIdPApp(ctx, "okta", "0oa2", "notion"); err != nil {
		t.Fatal(err)
	}
	if err := s.MapIdPApp(ctx, "okta", "nope", "notion"); !errors.Is(err, collector.ErrNotFound) {
		t.Fatalf("mapping an unknown IdP app: %v", err)
	}
	again := []collector.IdPApp{okta[1], okta[2]} // Slack was removed from Okta
	again[0].SeenAt = at(5)
	if err := s.ReplaceIdPApps(ctx, "okta", again, at(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddIdPApps(ctx, []collector.IdPApp{{IdP: "google_workspace", ExternalID: "Figma", Name: "Figma", Protocol: "saml", Active: true, AppID: "figma", MappedBy: "name", SeenAt: at(1)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.IdPApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []collector.IdPApp{
		{IdP: "google_workspace", ExternalID: "Figma", Name: "Figma", Protocol: "saml", Active: true, AppID: "figma", MappedBy: "name", SeenAt: at(1)},
		{IdP: "okta", ExternalID: "0oa3", Name: "Old CRM", Protocol: "swa", Active: false, AppID: "pipedrive", MappedBy: "name", SeenAt: at(0)},
		{IdP: "okta", ExternalID: "0oa2", Name: "Our Wiki", Protocol: "oidc", Active: true, AppID: "notion", MappedBy: "manual", SeenAt: at(5)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("idp apps\n got %+v\nwant %+v", got, want)
	}
	states, err := s.AppStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := states["notion"]; st.InsideIdP != "okta" || st.Status != collector.StatusUnreviewed {
		t.Errorf("notion, mapped by hand to an Okta app: %+v", st)
	}
	if st := states["figma"]; st.InsideIdP != "google_workspace" {
		t.Errorf("figma, seen in Google SAML logins: %+v", st)
	}
	if _, ok := states["slack"]; ok {
		t.Errorf("slack, removed from Okta, is still inside it: %+v", states["slack"])
	}
	if _, ok := states["pipedrive"]; ok {
		t.Errorf("pipedrive, an inactive Okta app, counts as inside: %+v", states["pipedrive"])
	}
	// IT's own record wins over the IdP list.
	if err := s.SetInsideIdP(ctx, "notion", "manual"); err != nil {
		t.Fatal(err)
	}
	states, err = s.AppStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := states["notion"]; st.InsideIdP != "manual" {
		t.Errorf("IT's record was overridden by the IdP list: %+v", st)
	}
	// Clearing a manual mapping lets the next import map again.
	if err := s.MapIdPApp(ctx, "okta", "0oa2", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceIdPApps(ctx, "okta", []collector.IdPApp{{IdP: "okta", ExternalID: "0oa2", Name: "Our Wiki", Active: true, AppID: "confluence", MappedBy: "name", SeenAt: at(6)}}, at(6)); err != nil {
		t.Fatal(err)
	}
	got, err = s.IdPApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].AppID != "confluence" || got[1].MappedBy != "name" {
		t.Errorf("after clearing the manual mapping: %+v", got)
	}
	if err := s.ReplaceIdPApps(ctx, "okta", []collector.IdPApp{{IdP: "entra", ExternalID: "x"}}, at(7)); err == nil {
		t.Error("an Entra app was accepted in Okta's list")
	}
}

func testGrants(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	g := func(person, client, app string, seen time.Time, scopes ...string) collector.OAuthGrant {
		return collector.OAuthGrant{Provider: "google", Person: person, ClientID: client, AppID: app, Name: client + " app", Scopes: scopes, SeenAt: seen}
	}
	if err := s.UpsertGrants(ctx, []collector.OAuthGrant{
		g("Ann@Acme.example", "c-notion", "notion", at(0), "email", "https://www.googleapis.com/auth/drive", "email"),
		g("bob@acme.example", "c-notion", "notion", at(1), "email"),
		g("ann@acme.example", "c-unknown", "", at(1), "https://mail.google.com/"),
		g("bob@acme.example", "c-unknown", "", at(2), "email"),
	}); err != nil {
		t.Fatal(err)
	}
	// Bob revokes Notion; a revoke older than the grant seen is ignored.
	if err := s.RevokeGrant(ctx, "google", "bob@acme.example", "c-notion", at(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeGrant(ctx, "google", "ann@acme.example", "c-notion", at(-1)); err != nil {
		t.Fatal(err)
	}
	// Ann's token listing no longer has the unknown client.
	if err := s.ReplacePersonGrants(ctx, "google", "ann@acme.example", []collector.OAuthGrant{g("ann@acme.example", "c-notion", "notion", at(4), "email", "https://www.googleapis.com/auth/drive")}, at(4)); err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []collector.OAuthGrant{
		{Provider: "google", Person: "ann@acme.example", ClientID: "c-notion", AppID: "notion", Name: "c-notion app", Scopes: []string{"email", "https://www.googleapis.com/auth/drive"}, GrantedAt: at(0), SeenAt: at(4)},
		{Provider: "google", Person: "bob@acme.example", ClientID: "c-unknown", Name: "c-unknown app", Scopes: []string{"email"}, GrantedAt: at(2), SeenAt: at(2)},
	}
	if !reflect.DeepEqual(cur, want) {
		t.Fatalf("current grants\n got %+v\nwant %+v", cur, want)
	}
	cands, err := s.OAuthCandidates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantC := []collector.OAuthCandidate{{Provider: "google", ClientID: "c-unknown", Name: "c-unknown app", People: 1, Scopes: []string{"email"}, FirstSeen: at(2), LastSeen: at(2)}}
	if !reflect.DeepEqual(cands, wantC) {
		t.Fatalf("candidates\n got %+v\nwant %+v", cands, wantC)
	}
	// Granting again after a revoke makes the grant stand again.
	if err := s.UpsertGrants(ctx, []collector.OAuthGrant{g("bob@acme.example", "c-notion", "notion", at(6), "email")}); err != nil {
		t.Fatal(err)
	}
	cur, err = s.CurrentGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != 3 {
		t.Fatalf("after re-granting: %+v", cur)
	}
	if err := s.UpsertGrants(ctx, []collector.OAuthGrant{{Provider: "google", ClientID: "x"}}); err == nil {
		t.Error("a grant without a person was stored")
	}
}
