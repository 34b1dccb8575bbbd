package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

var _ collector.AccountStore = (*Store)(nil)

// normalEmail is the stored form of an account's email.
func normalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateAccount stores a new admin.
func (s *Store) CreateAccount(ctx context.Context, a collector.Account) error {
	a.Email = normalEmail(a.Email)
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.opts.Now()
	}
	err := s.write(ctx, func(w *writeTx) error { return insertAccount(w, a) }, nil)
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.Email, err)
	}
	return nil
}

func checkAccount(a collector.Account) error {
	if a.Email == "" {
		return errors.New("empty email")
	}
	if a.PasswordHash == "" {
		return errors.New("empty password hash")
	}
	return nil
}

func insertAccount(w *writeTx, a collector.Account) error {
	_, err := w.execSQL("INSERT INTO accounts (email, password_hash, created_at) VALUES (?, ?, ?)",
		a.Email, a.PasswordHash, toMicros(a.CreatedAt))
	if isUniqueError(err) {
		return collector.ErrAccountExists
	}
	return err
}

// Account returns the admin with the email.
func (s *Store) Account(ctx context.Context, email string) (collector.Account, error) {
	a := collector.Account{}
	var created int64
	err := s.readDB.QueryRowContext(ctx, "SELECT email, password_hash, created_at FROM accounts WHERE email = ?",
		normalEmail(email)).Scan(&a.Email, &a.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return collector.Account{}, collector.ErrNotFound
	}
	if err != nil {
		return collector.Account{}, fmt.Errorf("account: %w", err)
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// HasAccounts reports whether any admin exists.
func (s *Store) HasAccounts(ctx context.Context) (bool, error) {
	var n int
	if err := s.readDB.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM accounts LIMIT 1)").Scan(&n); err != nil {
		return false, fmt.Errorf("has accounts: %w", err)
	}
	return n > 0, nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess collector.Session) error {
	if len(sess.TokenHash) == 0 {
		return errors.New("create session: empty token hash")
	}
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = s.opts.Now()
	}
	if sess.LastSeenAt.IsZero() {
		sess.LastSeenAt = sess.CreatedAt
	}
	email := normalEmail(sess.Email)
	err := s.write(ctx, func(w *writeTx) error {
		// Checked here, in the writer's transaction, rather than trusted
		// from the caller's earlier read: a password reset or a delete
		// between the two would otherwise be undone by this insert. The
		// explicit lookup also keeps the answer independent of the
		// foreign_keys pragma.
		var stored string
		err := w.queryRow("SELECT password_hash FROM accounts WHERE email = ?", email).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return collector.ErrNotFound
		}
		if err != nil {
			return err
		}
		if sess.PasswordHash != "" && sess.PasswordHash != stored {
			return collector.ErrPasswordChanged
		}
		_, err = w.execSQL("INSERT INTO sessions (token_hash, email, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
			sess.TokenHash, email, toMicros(sess.CreatedAt), toMicros(sess.LastSeenAt))
		if isForeignKeyError(err) {
			return collector.ErrNotFound
		}
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the session with the token hash.
func (s *Store) Session(ctx context.Context, tokenHash []byte) (collector.Session, error) {
	sess := collector.Session{}
	var created, seen int64
	err := s.readDB.QueryRowContext(ctx, "SELECT token_hash, email, created_at, last_seen_at FROM sessions WHERE token_hash = ?",
		tokenHash).Scan(&sess.TokenHash, &sess.Email, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return collector.Session{}, collector.ErrNotFound
	}
	if err != nil {
		return collector.Session{}, fmt.Errorf("session: %w", err)
	}
	sess.CreatedAt, sess.LastSeenAt = fromMicros(created), fromMicros(seen)
	return sess, nil
}

// TouchSession moves a session's LastSeenAt forward.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL("UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE token_hash = ?", toMicros(at), tokenHash)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL("DELETE FROM sessions WHERE token_hash = ?", tokenHash)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past either expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context, createdBefore, idleBefore time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(w *writeTx) error {
		res, err := w.execSQL("DELETE FROM sessions WHERE created_at < ? OR last_seen_at < ?", toMicros(createdBefore), toMicros(idleBefore))
		if err != nil {
			return err
		}
		n, err = affected(res)
		return err
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// SetSetupToken makes tokenHash the only setup token.
func (s *Store) SetSetupToken(ctx context.Context, tokenHash []byte, expires time.Time) error {
	if len(tokenHash) == 0 {
		return errors.New("set setup token: empty token hash")
	}
	err := s.write(ctx, func(w *writeTx) error {
		if _, err := w.execSQL("DELETE FROM setup_tokens"); err != nil {
			return err
		}
		_, err := w.execSQL("INSERT INTO setup_tokens (token_hash, expires_at) VALUES (?, ?)", tokenHash, toMicros(expires))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("set setup token: %w", err)
	}
	return nil
}

// SetupTokenValid reports whether tokenHash is a setup token valid at at.
func (s *Store) SetupTokenValid(ctx context.Context, tokenHash []byte, at time.Time) (bool, error) {
	var n int
	err := s.readDB.QueryRowContext(ctx, "SELECT count(*) FROM setup_tokens WHERE token_hash = ? AND expires_at > ?",
		tokenHash, toMicros(at)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("setup token: %w", err)
	}
	return n > 0, nil
}

// CreateFirstAccount creates the first admin with a setup token.
func (s *Store) CreateFirstAccount(ctx context.Context, tokenHash []byte, at time.Time, a collector.Account) error {
	a.Email = normalEmail(a.Email)
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("create first account: %w", err)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = at
	}
	// The checks and the insert share the writer's transaction, so two
	// setup forms sent at once cannot both create an admin. A refused
	// request must still remove the tokens, so the outcome is carried out
	// of the savepoint as a value, not as an error that would roll back.
	var refused error
	err := s.write(ctx, func(w *writeTx) error {
		refused = nil
		var valid, accounts int
		if err := w.queryRow("SELECT count(*) FROM setup_tokens WHERE token_hash = ? AND expires_at > ?",
			tokenHash, toMicros(at)).Scan(&valid); err != nil {
			return err
		}
		if err := w.queryRow("SELECT count(*) FROM (SELECT 1 FROM accounts LIMIT 1)").Scan(&accounts); err != nil {
			return err
		}
		switch {
		case valid == 0:
			refused = collector.ErrNotFound
			return nil // an unknown token removes nothing: anyone could send one
		case accounts > 0:
			refused = collector.ErrAccountExists
		default:
			if err := insertAccount(w, a); err != nil {
				return err
			}
		}
		_, err := w.execSQL("DELETE FROM setup_tokens")
		return err
	}, nil)
	if err == nil {
		err = refused
	}
	if err != nil {
		return fmt.Errorf("create first account: %w", err)
	}
	return nil
}

// ListAccounts returns every admin, sorted by email, without hashes.
func (s *Store) ListAccounts(ctx context.Context) ([]collector.Account, error) {
	rows, err := s.readDB.QueryContext(ctx, "SELECT email, created_at FROM accounts ORDER BY email")
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []collector.Account
	for rows.Next() {
		var a collector.Account
		var created int64
		if err := rows.Scan(&a.Email, &created); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// DeleteAccount removes an admin and its sessions, unless it is the last.
func (s *Store) DeleteAccount(ctx context.Context, email string) error {
	email = normalEmail(email)
	// The count and the delete share the writer's transaction, so two
	// admins removing each other at once cannot leave none.
	err := s.write(ctx, func(w *writeTx) error {
		var exists, total int
		if err := w.queryRow("SELECT count(*) FROM accounts WHERE email = ?", email).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return collector.ErrNotFound
		}
		if err := w.queryRow("SELECT count(*) FROM accounts").Scan(&total); err != nil {
			return err
		}
		if total <= 1 {
			return collector.ErrLastAccount
		}
		// Explicit rather than left to ON DELETE CASCADE: the sign-out
		// must not depend on the foreign_keys pragma.
		if _, err := w.execSQL("DELETE FROM sessions WHERE email = ?", email); err != nil {
			return err
		}
		_, err := w.execSQL("DELETE FROM accounts WHERE email = ?", email)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("delete account %s: %w", email, err)
	}
	return nil
}

// SetPassword replaces an admin's password hash and ends its sessions.
func (s *Store) SetPassword(ctx context.Context, email, passwordHash string) error {
	email = normalEmail(email)
	if passwordHash == "" {
		return fmt.Errorf("set password of %s: empty password hash", email)
	}
	err := s.write(ctx, func(w *writeTx) error {
		res, err := w.execSQL("UPDATE accounts SET password_hash = ? WHERE email = ?", passwordHash, email)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		_, err = w.execSQL("DELETE FROM sessions WHERE email = ?", email)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", email, err)
	}
	return nil
}
