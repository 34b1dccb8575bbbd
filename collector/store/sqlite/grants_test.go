package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

func TestOAuthGrantDetails(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := context.Background()
	now := time.Now().UTC()
	ev := func(app, person, detail string, src collector.Source) collector.Evidence {
		return collector.Evidence{AppID: app, Source: src, Person: person, Day: now.Format(time.DateOnly),
			FirstSeen: now, LastSeen: now, Count: 1, Detail: detail, DedupeKey: string(src) + app + person + detail}
	}
	_, err := s.AddEvidence(ctx, []collector.Evidence{
		ev("zapier", "a@example.com", "https://mail.google.com/ openid", collector.SourceOAuthGrant),
		ev("zapier", "b@example.com", "https://mail.google.com/ openid", collector.SourceOAuthGrant),
		ev("zapier", "c@example.com", "openid", collector.SourceOAuthGrant),
		ev("slack", "a@example.com", "signed in with okta", collector.SourceSSOLogin),
		ev("miro", "a@example.com", "", collector.SourceOAuthGrant),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.OAuthGrantDetails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	z := got["zapier"]
	slices.Sort(z)
	if len(got) != 1 || !slices.Equal(z, []string{"https://mail.google.com/ openid", "openid"}) {
		t.Fatalf("OAuthGrantDetails = %v", got)
	}
}
