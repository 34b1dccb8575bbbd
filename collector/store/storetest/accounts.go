package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// The web view's accounts. Rules every store keeps beyond the interface:
//   - Emails are stored lowercase; Account finds an admin in any case.
//   - Deleting nothing (an unknown session) is not an error.
//   - CreateFirstAccount creates at most one admin however many requests
//     race, and removes the setup token whenever the token was valid.
//   - DeleteAccount never leaves the store without an admin, however
//     many deletes race.

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

const testPasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

func testAccounts(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	if has, err := s.HasAccounts(ctx); err != nil || has {
		t.Fatalf("HasAccounts of a fresh store = %v, %v", has, err)
	}
	if _, err := s.Account(ctx, "it@example.com"); !errors.Is(err, collector.ErrNotFound) {
		t.Fatalf("Account of a fresh store: %v, want ErrNotFound", err)
	}
	a := collector.Account{Email: "IT@Example.com", PasswordHash: testPasswordHash, CreatedAt: at(0)}
	must(t, s.CreateAccount(ctx, a), "create account")
	if err := s.CreateAccount(ctx, collector.Account{Email: "it@example.COM", PasswordHash: testPasswordHash}); !errors.Is(err, collector.ErrAccountExists) {
		t.Errorf("second account with the same email: %v, want ErrAccountExists", err)
	}
	got, err := s.Account(ctx, "it@EXAMPLE.com")
	if err != nil {
		t.Fatal(err)
	}
	want := collector.Account{Email: "it@example.com", PasswordHash: testPasswordHash, CreatedAt: at(0)}
	if got != want {
		t.Errorf("Account = %+v, want %+v", got, want)
	}
	if has, err := s.HasAccounts(ctx); err != nil || !has {
		t.Errorf("HasAccounts after create = %v, %v", has, err)
	}
	for _, bad := range []collector.Account{{Email: "", PasswordHash: testPasswordHash}, {Email: "x@example.com"}} {
		if err := s.CreateAccount(ctx, bad); err == nil {
			t.Errorf("CreateAccount(%+v) stored an incomplete account", bad)
		}
	}
}

func testSessions(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	must(t, s.CreateAccount(ctx, collector.Account{Email: "it@example.com", PasswordHash: testPasswordHash, CreatedAt: at(0)}), "create account")
	if err := s.CreateSession(ctx, collector.Session{TokenHash: hashOf("orphan"), Email: "nobody@example.com", CreatedAt: at(0)}); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("session of an unknown account: %v, want ErrNotFound", err)
	}
	a, b := hashOf("a"), hashOf("b")
	must(t, s.CreateSession(ctx, collector.Session{TokenHash: a, Email: "IT@example.com", CreatedAt: at(0)}), "create session a")
	must(t, s.CreateSession(ctx, collector.Session{TokenHash: b, Email: "it@example.com", CreatedAt: at(1), LastSeenAt: at(2)}), "create session b")
	got, err := s.Session(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "it@example.com" || !got.CreatedAt.Equal(at(0)) || !got.LastSeenAt.Equal(at(0)) || string(got.TokenHash) != string(a) {
		t.Errorf("Session(a) = %+v: want the account's email and LastSeenAt = CreatedAt", got)
	}
	if _, err := s.Session(ctx, hashOf("nope")); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}

	must(t, s.TouchSession(ctx, a, at(5)), "touch")
	must(t, s.TouchSession(ctx, a, at(3)), "touch back") // never moves back
	must(t, s.TouchSession(ctx, hashOf("nope"), at(5)), "touch unknown")
	if got, _ := s.Session(ctx, a); !got.LastSeenAt.Equal(at(5)) {
		t.Errorf("LastSeenAt after touches = %v, want %v", got.LastSeenAt, at(5))
	}

	// a: created 0, seen 5. b: created 1, seen 2.
	n, err := s.DeleteExpiredSessions(ctx, at(-10), at(3))
	if err != nil || n != 1 {
		t.Fatalf("delete idle sessions = %d, %v; want 1", n, err)
	}
	if _, err := s.Session(ctx, b); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("idle session b survived: %v", err)
	}
	n, err = s.DeleteExpiredSessions(ctx, at(0), at(0))
	if err != nil || n != 0 {
		t.Fatalf("delete with cutoffs at a's creation = %d, %v; want 0 (cutoffs are exclusive)", n, err)
	}
	must(t, s.DeleteSession(ctx, a), "delete a")
	must(t, s.DeleteSession(ctx, a), "delete a again")
	if _, err := s.Session(ctx, a); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("deleted session: %v, want ErrNotFound", err)
	}
	if err := s.CreateSession(ctx, collector.Session{Email: "it@example.com"}); err == nil {
		t.Error("a session without a token hash was stored")
	}
	testSessionPasswordCheck(t, open(t))
}

// testSessionPasswordCheck: a session carrying the password hash its
// sign-in verified is stored only while the account still has that hash,
// so a reset or a delete that lands during a sign-in is not undone by it.
func testSessionPasswordCheck(t *testing.T, s Stores) {
	ctx := context.Background()
	const newHash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ldw"
	for _, email := range []string{"alice@example.com", "bob@example.com", "carol@example.com"} {
		must(t, s.CreateAccount(ctx, collector.Account{Email: email, PasswordHash: testPasswordHash, CreatedAt: at(0)}), "create "+email)
	}
	// alice's password is reset and carol is removed after their sign-ins
	// checked testPasswordHash.
	must(t, s.SetPassword(ctx, "alice@example.com", newHash), "set password")
	must(t, s.DeleteAccount(ctx, "carol@example.com"), "delete carol")
	tests := []struct {
		name, email, hash string
		want              error
	}{
		{"stale hash after a reset", "alice@example.com", testPasswordHash, collector.ErrPasswordChanged},
		{"current hash", "alice@example.com", newHash, nil},
		{"current hash, other case email", "Alice@Example.com", newHash, nil},
		{"no hash skips the check", "alice@example.com", "", nil},
		{"unchanged account", "bob@example.com", testPasswordHash, nil},
		{"deleted account", "carol@example.com", testPasswordHash, collector.ErrNotFound},
		{"deleted account, no hash", "carol@example.com", "", collector.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := hashOf("check " + tt.name)
			err := s.CreateSession(ctx, collector.Session{TokenHash: tok, Email: tt.email, CreatedAt: at(1), PasswordHash: tt.hash})
			if !errors.Is(err, tt.want) || (tt.want != nil && err == nil) {
				t.Fatalf("CreateSession: %v, want %v", err, tt.want)
			}
			got, err := s.Session(ctx, tok)
			switch {
			case tt.want != nil && !errors.Is(err, collector.ErrNotFound):
				t.Errorf("refused session was stored: %+v, %v", got, err)
			case tt.want == nil && err != nil:
				t.Errorf("stored session: %v", err)
			case tt.want == nil && got.PasswordHash != "":
				t.Errorf("Session returned PasswordHash %q, want it left empty", got.PasswordHash)
			}
		})
	}
}

func testSetupToken(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	admin := collector.Account{Email: "First@example.com", PasswordHash: testPasswordHash}
	if err := s.CreateFirstAccount(ctx, hashOf("t0"), at(0), admin); !errors.Is(err, collector.ErrNotFound) {
		t.Fatalf("setup with no token stored: %v, want ErrNotFound", err)
	}
	must(t, s.SetSetupToken(ctx, hashOf("t1"), at(24)), "set token t1")
	must(t, s.SetSetupToken(ctx, hashOf("t2"), at(24)), "set token t2") // replaces t1
	valid := func(tok string, h int) bool {
		t.Helper()
		ok, err := s.SetupTokenValid(ctx, hashOf(tok), at(h))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if valid("t1", 0) || !valid("t2", 0) || valid("t2", 24) || valid("zz", 0) {
		t.Errorf("validity t1@0=%v t2@0=%v t2@24=%v zz@0=%v; want false true false false",
			valid("t1", 0), valid("t2", 0), valid("t2", 24), valid("zz", 0))
	}
	if err := s.CreateFirstAccount(ctx, hashOf("t2"), at(25), admin); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("setup with an expired token: %v, want ErrNotFound", err)
	}
	if err := s.CreateFirstAccount(ctx, hashOf("t1"), at(1), admin); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("setup with a replaced token: %v, want ErrNotFound", err)
	}

	// Racing setup forms: exactly one admin.
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			a := admin
			a.Email = string(rune('a'+i)) + "@example.com"
			errs[i] = s.CreateFirstAccount(ctx, hashOf("t2"), at(1), a)
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, collector.ErrNotFound), errors.Is(err, collector.ErrAccountExists):
		default:
			t.Errorf("racing setup: %v", err)
		}
	}
	if created != 1 {
		t.Errorf("%d racing setups created an admin, want exactly 1", created)
	}
	if valid("t2", 1) {
		t.Error("the setup token survived its use")
	}

	// A token handed out while an admin exists cannot make a second one,
	// and is spent by trying.
	must(t, s.SetSetupToken(ctx, hashOf("t3"), at(48)), "set token t3")
	if err := s.CreateFirstAccount(ctx, hashOf("t3"), at(30), collector.Account{Email: "late@example.com", PasswordHash: testPasswordHash}); !errors.Is(err, collector.ErrAccountExists) {
		t.Errorf("setup with an admin present: %v, want ErrAccountExists", err)
	}
	if valid("t3", 30) {
		t.Error("the setup token survived a refused setup")
	}
	if _, err := s.Account(ctx, "late@example.com"); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("refused setup stored its account: %v", err)
	}
}

func testAccountAdmin(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	if list, err := s.ListAccounts(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListAccounts of a fresh store = %v, %v", list, err)
	}
	for i, email := range []string{"Carol@example.com", "alice@example.com", "bob@example.com"} {
		must(t, s.CreateAccount(ctx, collector.Account{Email: email, PasswordHash: testPasswordHash, CreatedAt: at(i)}), "create "+email)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []collector.Account{
		{Email: "alice@example.com", CreatedAt: at(1)},
		{Email: "bob@example.com", CreatedAt: at(2)},
		{Email: "carol@example.com", CreatedAt: at(0)},
	}
	if !slices.Equal(list, want) {
		t.Errorf("ListAccounts = %+v, want %+v (by email, no hashes)", list, want)
	}

	// Sessions: two of alice's, one of bob's.
	must(t, s.CreateSession(ctx, collector.Session{TokenHash: hashOf("alice-1"), Email: "alice@example.com", CreatedAt: at(3)}), "session")
	must(t, s.CreateSession(ctx, collector.Session{TokenHash: hashOf("alice-2"), Email: "alice@example.com", CreatedAt: at(3)}), "session")
	must(t, s.CreateSession(ctx, collector.Session{TokenHash: hashOf("bob-1"), Email: "bob@example.com", CreatedAt: at(3)}), "session")
	gone := func(tokens ...string) {
		t.Helper()
		for _, tok := range tokens {
			if _, err := s.Session(ctx, hashOf(tok)); !errors.Is(err, collector.ErrNotFound) {
				t.Errorf("session %s: %v, want ErrNotFound", tok, err)
			}
		}
	}
	live := func(tokens ...string) {
		t.Helper()
		for _, tok := range tokens {
			if _, err := s.Session(ctx, hashOf(tok)); err != nil {
				t.Errorf("session %s: %v, want it alive", tok, err)
			}
		}
	}

	// A password reset drops every session of that admin only.
	const newHash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ldw"
	must(t, s.SetPassword(ctx, "ALICE@example.com", newHash), "set password")
	if a, err := s.Account(ctx, "alice@example.com"); err != nil || a.PasswordHash != newHash || !a.CreatedAt.Equal(at(1)) {
		t.Errorf("after SetPassword: %+v, %v; want the new hash and the same creation time", a, err)
	}
	gone("alice-1", "alice-2")
	live("bob-1")
	if err := s.SetPassword(ctx, "nobody@example.com", newHash); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("SetPassword of an unknown admin: %v, want ErrNotFound", err)
	}
	if err := s.SetPassword(ctx, "bob@example.com", ""); err == nil {
		t.Error("SetPassword stored an empty hash")
	}
	live("bob-1")

	// Delete removes the account and its sessions.
	must(t, s.DeleteAccount(ctx, "Bob@Example.com"), "delete bob")
	if _, err := s.Account(ctx, "bob@example.com"); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("deleted account: %v, want ErrNotFound", err)
	}
	gone("bob-1")
	if err := s.DeleteAccount(ctx, "bob@example.com"); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	// The email is free again.
	must(t, s.CreateAccount(ctx, collector.Account{Email: "bob@example.com", PasswordHash: testPasswordHash, CreatedAt: at(4)}), "create bob again")
	must(t, s.DeleteAccount(ctx, "bob@example.com"), "delete bob again")

	// Racing deletes of the last two admins: exactly one succeeds.
	must(t, s.CreateSession(ctx, collector.Session{TokenHash: hashOf("carol-1"), Email: "carol@example.com", CreatedAt: at(5)}), "session")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, email := range []string{"alice@example.com", "carol@example.com"} {
		wg.Go(func() { errs[i] = s.DeleteAccount(ctx, email) })
	}
	wg.Wait()
	deleted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, collector.ErrLastAccount):
		default:
			t.Errorf("racing delete: %v", err)
		}
	}
	if deleted != 1 {
		t.Fatalf("%d of two racing deletes succeeded, want 1", deleted)
	}
	list, err = s.ListAccounts(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("after racing deletes: %+v, %v; want one admin left", list, err)
	}
	last := list[0].Email
	if err := s.DeleteAccount(ctx, last); !errors.Is(err, collector.ErrLastAccount) {
		t.Errorf("deleting the last admin: %v, want ErrLastAccount", err)
	}
	if has, err := s.HasAccounts(ctx); err != nil || !has {
		t.Errorf("HasAccounts after a refused delete = %v, %v", has, err)
	}
	if last == "carol@example.com" {
		live("carol-1")
	}
}
