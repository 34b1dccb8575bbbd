package collector

import (
	"context"
	"errors"
	"time"
)

// The web view's local admin accounts, their sessions and the one-time
// setup token a first start hands out. Secrets never reach a store in the
// clear: passwords are argon2id hashes (a PHC string made by package web),
// session and setup tokens are kept as their SHA-256.

// ErrAccountExists is returned when an admin account with the email is
// already stored, or, for CreateFirstAccount, when any admin exists.
var ErrAccountExists = errors.New("admin account already exists")

// ErrLastAccount is returned by DeleteAccount for the only admin left:
// removing it would lock everybody out of the web view, and the setup
// link only appears while no admin exists, after a restart.
var ErrLastAccount = errors.New("the last admin account cannot be deleted")

// ErrPasswordChanged is returned by CreateSession when the account's
// password hash is no longer the one the sign-in verified: a reset landed
// between the (slow) password check and the session insert, and must sign
// that browser out like every other.
var ErrPasswordChanged = errors.New("the admin's password changed during sign-in")

// Account is a local admin of the web view.
type Account struct {
	// Email is the sign-in name; stores keep it lowercase and compare it
	// case-insensitively.
	Email string
	// PasswordHash is the encoded argon2id hash ("$argon2id$v=19$...").
	PasswordHash string
	CreatedAt    time.Time
}

// Session is a signed-in browser.
type Session struct {
	// TokenHash is the SHA-256 of the session cookie's token.
	TokenHash []byte
	Email     string
	CreatedAt time.Time
	// LastSeenAt is the last request of the session (at a coarse grain:
	// the web view does not write on every request); idle expiry reads it.
	LastSeenAt time.Time
	// PasswordHash is, for CreateSession only, the account's password
	// hash the sign-in verified; "" for sign-ins without a password
	// (OIDC). It is not stored: Session leaves it empty.
	PasswordHash string
}

// AccountStore keeps admin accounts, sessions and the setup token.
type AccountStore interface {
	// CreateAccount stores a new admin. ErrAccountExists when the email
	// has one already.
	CreateAccount(ctx context.Context, a Account) error
	// Account returns the admin with the email, in any case; ErrNotFound
	// when none.
	Account(ctx context.Context, email string) (Account, error)
	// HasAccounts reports whether any admin exists.
	HasAccounts(ctx context.Context) (bool, error)
	// ListAccounts returns every admin, sorted by email. PasswordHash is
	// left empty: a listing has no use for it.
	ListAccounts(ctx context.Context) ([]Account, error)
	// DeleteAccount removes the admin with the email, in any case, and
	// all of its sessions in the same transaction, so a removed admin is
	// signed out at once. ErrNotFound when there is none; ErrLastAccount,
	// and nothing removed, when it is the only admin.
	DeleteAccount(ctx context.Context, email string) error
	// SetPassword replaces the admin's password hash and deletes all of
	// its sessions in the same transaction: a reset signs the account out
	// everywhere. ErrNotFound when there is no such admin.
	SetPassword(ctx context.Context, email, passwordHash string) error

	// CreateSession stores a new session. ErrNotFound when its account
	// does not exist; ErrPasswordChanged when s.PasswordHash is set and
	// the account's hash differs. Both are checked in the transaction of
	// the insert, so a SetPassword or DeleteAccount that ran after the
	// caller checked the password leaves no session behind; nothing is
	// stored on either error.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with the token hash; ErrNotFound when
	// none.
	Session(ctx context.Context, tokenHash []byte) (Session, error)
	// TouchSession moves a session's LastSeenAt forward to at (never
	// back); an unknown session is ignored.
	TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error
	// DeleteSession removes a session (sign-out); an unknown one is
	// ignored.
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// DeleteExpiredSessions removes sessions created before createdBefore
	// or last seen before idleBefore, and returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, createdBefore, idleBefore time.Time) (int64, error)

	// SetSetupToken makes tokenHash the only setup token, valid until
	// expires.
	SetSetupToken(ctx context.Context, tokenHash []byte, expires time.Time) error
	// SetupTokenValid reports whether tokenHash is a setup token still
	// valid at at.
	SetupTokenValid(ctx context.Context, tokenHash []byte, at time.Time) (bool, error)
	// CreateFirstAccount creates the first admin with a setup token valid
	// at at, and removes every setup token, in one transaction.
	// ErrNotFound when the token is unknown or expired; ErrAccountExists
	// when an admin already exists (the token is removed then too).
	CreateFirstAccount(ctx context.Context, tokenHash []byte, at time.Time, a Account) error
}
