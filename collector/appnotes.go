package collector

import (
	"context"
	"time"
)

// AppNote is what IT writes down about an app besides its status: who in
// the company owns it (the person to ask before changing it) and free
// notes (the contract, the admin contact, why it is tolerated).
type AppNote struct {
	AppID string
	// Owner is free text: usually an email or a team name.
	Owner string
	Notes string
	// By is who last changed the note (an admin's email); At when.
	By string
	At time.Time
}

// Limits on an app note, so a pasted document cannot bloat every page
// that shows it.
const (
	MaxAppOwnerLen = 200
	MaxAppNotesLen = 10_000
)

// AppNoteStore keeps IT's notes about apps, one per app.
type AppNoteStore interface {
	// AppNote returns the app's note; a zero AppNote (with AppID set) and
	// no error when nobody wrote one.
	AppNote(ctx context.Context, appID string) (AppNote, error)
	// SetAppNote replaces the app's note; a zero At is set to now. An
	// empty app id is refused.
	SetAppNote(ctx context.Context, n AppNote) error
}
