package collector

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// EnrollSecret is an enroll secret made in the web view. Only the SHA-256
// of its value is kept: the value is shown once, when it is made, and
// goes into the MDM profile from there.
type EnrollSecret struct {
	Name string
	// Hash is the SHA-256 of the secret's value.
	Hash      []byte
	CreatedBy string
	CreatedAt time.Time
	// RevokedAt is zero while the secret is active; RevokedBy is who
	// revoked it.
	RevokedAt time.Time
	RevokedBy string
}

// Revoked reports whether new enrollments with the secret are refused
// (and the devices enrolled with it too).
func (s EnrollSecret) Revoked() bool { return !s.RevokedAt.IsZero() }

// ErrEnrollSecretExists is returned when an enroll secret of that name
// already exists: a name names one secret forever, so a device's
// EnrollSecret never becomes ambiguous.
var ErrEnrollSecretExists = errors.New("an enroll secret with this name already exists")

// EnrollSecretStore keeps the enroll secrets made in the web view.
type EnrollSecretStore interface {
	// CreateEnrollSecret stores a new secret; a zero CreatedAt is set to
	// now. A name already used, revoked or not, is ErrEnrollSecretExists;
	// an empty name or a hash that is not 32 bytes is refused.
	CreateEnrollSecret(ctx context.Context, s EnrollSecret) error
	// EnrollSecrets returns every stored secret, revoked ones included,
	// sorted by name.
	EnrollSecrets(ctx context.Context) ([]EnrollSecret, error)
	// RevokeEnrollSecret revokes the named secret (ErrNotFound when there
	// is none); revoking a revoked secret keeps its first revocation.
	RevokeEnrollSecret(ctx context.Context, name, by string, at time.Time) error
}

// MaxDigestRecipients bounds the weekly digest's list: it is meant for the
// IT team, not a company-wide mailing.
const MaxDigestRecipients = 50

// DigestRecipientsStore keeps who gets the weekly digest.
type DigestRecipientsStore interface {
	// DigestRecipients returns the addresses as stored, sorted; none when
	// nobody set them.
	DigestRecipients(ctx context.Context) ([]string, error)
	// SetDigestRecipients replaces the list. Callers pass addresses
	// cleaned by ParseDigestRecipients; the store refuses more than
	// MaxDigestRecipients and empty addresses.
	SetDigestRecipients(ctx context.Context, emails []string) error
}

// ParseDigestRecipients reads a list of email addresses separated by
// commas, semicolons or line breaks: each must be a bare address
// (net/mail, no display name), is lowercased, duplicates are dropped, and
// at most MaxDigestRecipients are allowed. The result is sorted.
func ParseDigestRecipients(text string) ([]string, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ';' || r == '\n' || r == '\r' || r == ' ' || r == '\t'
	})
	var out []string
	for _, f := range fields {
		if len(f) > 254 {
			return nil, fmt.Errorf("%.40q… is longer than an email address can be", f)
		}
		a, err := mail.ParseAddress(f)
		if err != nil || a.Name != "" || a.Address != f {
			return nil, fmt.Errorf("%q is not an email address", f)
		}
		e := strings.ToLower(a.Address)
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) > MaxDigestRecipients {
		return nil, fmt.Errorf("%d addresses: at most %d", len(out), MaxDigestRecipients)
	}
	slices.Sort(out)
	return out, nil
}

// RetentionOverride is retention set in the web view over the
// configuration's: periods as the configuration writes them ("90d",
// "13mo"), "" for a period not overridden. The caller validates the
// periods (config.ParsePeriod and the configuration's rules); the store
// keeps text.
type RetentionOverride struct {
	Evidence   string
	Aggregates string
	// By is who last set it (an admin's email); At when.
	By string
	At time.Time
}

// Set reports whether any period is overridden.
func (o RetentionOverride) Set() bool { return o.Evidence != "" || o.Aggregates != "" }

// RetentionStore keeps the retention override.
type RetentionStore interface {
	// RetentionOverride returns the override; a zero one when none is
	// set.
	RetentionOverride(ctx context.Context) (RetentionOverride, error)
	// SetRetentionOverride replaces it; a zero At is set to now, and a
	// zero override (both periods "") clears it.
	SetRetentionOverride(ctx context.Context, o RetentionOverride) error
}
