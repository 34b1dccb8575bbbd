package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// testEnrollSecrets: secrets round-trip sorted by name with their hash, a
// name is used once, revoking marks the secret (the first revocation
// stands) and an unknown name is ErrNotFound.
func testEnrollSecrets(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()

	got, err := s.EnrollSecrets(ctx)
	must(t, err, "list enroll secrets of an empty store")
	if len(got) != 0 {
		t.Fatalf("an empty store lists %+v", got)
	}
	hash := func(v string) []byte { h := sha256.Sum256([]byte(v)); return h[:] }
	laptops := collector.EnrollSecret{Name: "laptops-2026", Hash: hash("one"), CreatedBy: "it@example.com", CreatedAt: at(1)}
	contractors := collector.EnrollSecret{Name: "contractors", Hash: hash("two"), CreatedBy: "it@example.com", CreatedAt: at(2)}
	must(t, s.CreateEnrollSecret(ctx, laptops), "create laptops")
	must(t, s.CreateEnrollSecret(ctx, contractors), "create contractors")
	if err := s.CreateEnrollSecret(ctx, collector.EnrollSecret{Name: "laptops-2026", Hash: hash("three")}); !errors.Is(err, collector.ErrEnrollSecretExists) {
		t.Errorf("a second secret named laptops-2026: %v, want ErrEnrollSecretExists", err)
	}
	for _, bad := range []collector.EnrollSecret{{Hash: hash("x")}, {Name: "short-hash", Hash: []byte("abc")}} {
		if err := s.CreateEnrollSecret(ctx, bad); err == nil {
			t.Errorf("CreateEnrollSecret(%+v): no error", bad)
		}
	}
	got, err = s.EnrollSecrets(ctx)
	must(t, err, "list enroll secrets")
	for i := range got {
		got[i].CreatedAt = got[i].CreatedAt.UTC()
	}
	diff(t, "enroll secrets", got, []collector.EnrollSecret{contractors, laptops})

	must(t, s.RevokeEnrollSecret(ctx, "laptops-2026", "bob@example.com", at(3)), "revoke")
	must(t, s.RevokeEnrollSecret(ctx, "laptops-2026", "eve@example.com", at(4)), "revoke again")
	if err := s.RevokeEnrollSecret(ctx, "nope", "bob@example.com", at(3)); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("revoking an unknown secret: %v, want ErrNotFound", err)
	}
	got, err = s.EnrollSecrets(ctx)
	must(t, err, "list after revoke")
	if len(got) != 2 || got[0].Revoked() || !got[1].Revoked() {
		t.Fatalf("after revoking laptops-2026: %+v", got)
	}
	if !got[1].RevokedAt.Equal(at(3)) || got[1].RevokedBy != "bob@example.com" {
		t.Errorf("revocation %v by %q, want the first one (%v by bob)", got[1].RevokedAt, got[1].RevokedBy, at(3))
	}
}

// testDigestRecipients: the list round-trips, is replaced whole, can be
// emptied, and more than MaxDigestRecipients is refused.
func testDigestRecipients(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	got, err := s.DigestRecipients(ctx)
	must(t, err, "recipients of an empty store")
	if len(got) != 0 {
		t.Fatalf("an empty store has recipients %q", got)
	}
	list := []string{"ann@example.com", "it@example.com"}
	must(t, s.SetDigestRecipients(ctx, list), "set recipients")
	got, err = s.DigestRecipients(ctx)
	must(t, err, "read recipients")
	diff(t, "recipients", got, list)
	must(t, s.SetDigestRecipients(ctx, []string{"bob@example.com"}), "replace recipients")
	got, err = s.DigestRecipients(ctx)
	must(t, err, "read replaced recipients")
	diff(t, "replaced recipients", got, []string{"bob@example.com"})

	var many []string
	for i := range collector.MaxDigestRecipients + 1 {
		many = append(many, fmt.Sprintf("p%d@example.com", i))
	}
	if err := s.SetDigestRecipients(ctx, many); err == nil {
		t.Errorf("%d recipients: no error", len(many))
	}
	if err := s.SetDigestRecipients(ctx, []string{"a@example.com\nb@example.com"}); err == nil {
		t.Error("an address with a line break: no error")
	}
	must(t, s.SetDigestRecipients(ctx, nil), "clear recipients")
	got, err = s.DigestRecipients(ctx)
	must(t, err, "read cleared recipients")
	if len(got) != 0 {
		t.Errorf("cleared recipients read back as %q", got)
	}
}

// testRetentionOverride: the override round-trips, one period may be set
// alone, and a zero override clears it.
func testRetentionOverride(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	got, err := s.RetentionOverride(ctx)
	must(t, err, "override of an empty store")
	if got.Set() {
		t.Fatalf("an empty store has an override %+v", got)
	}
	o := collector.RetentionOverride{Evidence: "30d", Aggregates: "2y", By: "it@example.com", At: at(1)}
	must(t, s.SetRetentionOverride(ctx, o), "set override")
	got, err = s.RetentionOverride(ctx)
	must(t, err, "read override")
	got.At = got.At.UTC()
	diff(t, "override", got, o)

	half := collector.RetentionOverride{Evidence: "60d", By: "bob@example.com", At: at(2)}
	must(t, s.SetRetentionOverride(ctx, half), "set evidence only")
	got, err = s.RetentionOverride(ctx)
	must(t, err, "read evidence-only override")
	got.At = got.At.UTC()
	diff(t, "evidence-only override", got, half)

	must(t, s.SetRetentionOverride(ctx, collector.RetentionOverride{By: "bob@example.com"}), "clear override")
	got, err = s.RetentionOverride(ctx)
	must(t, err, "read cleared override")
	if got.Set() {
		t.Errorf("a cleared override reads back as %+v", got)
	}
}
