package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// testCredentialOverrides: overrides round-trip sorted by key, setting a
// key again replaces it, empty keys or files are refused, and deleting an
// unknown key is ErrNotFound.
func testCredentialOverrides(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()

	got, err := s.CredentialOverrides(ctx)
	must(t, err, "list overrides of an empty store")
	if len(got) != 0 {
		t.Fatalf("an empty store lists %+v", got)
	}
	okta := collector.CredentialOverride{Key: collector.CredentialOktaToken, File: "/data/credentials/okta", SetBy: "it@example.com", SetAt: at(1)}
	mail := collector.CredentialOverride{Key: collector.MailboxCredential("ap"), File: "/data/credentials/ap", SetBy: "it@example.com", SetAt: at(2)}
	must(t, s.SetCredentialOverride(ctx, okta), "set okta")
	must(t, s.SetCredentialOverride(ctx, mail), "set mail")
	okta.SetBy, okta.SetAt = "bob@example.com", at(3)
	must(t, s.SetCredentialOverride(ctx, okta), "set okta again")
	for _, bad := range []collector.CredentialOverride{{File: "/x"}, {Key: "k"}} {
		if err := s.SetCredentialOverride(ctx, bad); err == nil {
			t.Errorf("SetCredentialOverride(%+v): no error", bad)
		}
	}
	got, err = s.CredentialOverrides(ctx)
	must(t, err, "list overrides")
	for i := range got {
		got[i].SetAt = got[i].SetAt.UTC()
	}
	diff(t, "credential overrides", got, []collector.CredentialOverride{mail, okta})

	must(t, s.DeleteCredentialOverride(ctx, okta.Key), "delete okta")
	if err := s.DeleteCredentialOverride(ctx, okta.Key); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("deleting it again: %v, want ErrNotFound", err)
	}
	got, err = s.CredentialOverrides(ctx)
	must(t, err, "list after delete")
	if len(got) != 1 || got[0].Key != mail.Key {
		t.Errorf("after deleting okta: %+v", got)
	}
}
