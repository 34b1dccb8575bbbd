package web

import (
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
)

// The admins page: who can sign in to the web view, adding one with a
// generated password shown once, and removing one, which signs it out at
// once. Password resets are `shadowmap admin password` on the server: a
// page that set another admin's password would let one admin take over
// another's account.

// maxAdminsFormBytes bounds the admins forms' bodies: an email and a
// confirmation.
const maxAdminsFormBytes = 16 << 10

// adminsSaved are the messages a successful form redirects to, by
// ?saved=; anything else shows nothing, so the URL cannot put words on
// the page.
var adminsSaved = map[string]string{
	"removed": "Admin removed and signed out everywhere.",
}

func (s *Server) adminsRoutes() {
	s.mux.HandleFunc("GET /settings/admins", s.signedIn(s.adminsPage))
	// The body is capped before signedIn reads the CSRF field from it.
	s.mux.HandleFunc("POST /settings/admins", limitBody(maxAdminsFormBytes, s.signedIn(s.addAdmin)))
	s.mux.HandleFunc("POST /settings/admins/remove", limitBody(maxAdminsFormBytes, s.signedIn(s.removeAdmin)))
}

// adminsPageData is what admins.html shows.
type adminsPageData struct {
	Saved string
	// Refused says why a remove was refused when the admin's row has no
	// form to show it beside (your own row).
	Refused string
	Admins  []adminRow
	// NewAdmin is the admin just added: its password is on this answer
	// only, never stored in the clear or shown again.
	NewAdmin   *newAdmin
	AddForm    nameForm
	RemoveForm revokeForm
}

type adminRow struct {
	collector.Account
	// You is the signed-in admin, who cannot remove themselves here.
	You bool
}

type newAdmin struct{ Email, Password string }

func (s *Server) adminsData(r *http.Request, sess session) (adminsPageData, error) {
	var d adminsPageData
	accounts, err := s.opts.Accounts.ListAccounts(r.Context())
	if err != nil {
		return d, err
	}
	for _, a := range accounts {
		d.Admins = append(d.Admins, adminRow{Account: a, You: a.Email == sess.Email})
	}
	return d, nil
}

func (s *Server) renderAdmins(w http.ResponseWriter, r *http.Request, status int, sess session, d adminsPageData) {
	s.render(w, r, status, "admins", page{Title: "Admins", Nav: "settings", User: sess.Email, CSRF: sess.CSRF, Data: d})
}

// adminsPageWith renders the page with the stored admins and the form
// state set by edit.
func (s *Server) adminsPageWith(w http.ResponseWriter, r *http.Request, status int, sess session, edit func(d *adminsPageData)) {
	d, err := s.adminsData(r, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	edit(&d)
	s.renderAdmins(w, r, status, sess, d)
}

func (s *Server) adminsPage(w http.ResponseWriter, r *http.Request, sess session) {
	saved := adminsSaved[r.URL.Query().Get("saved")]
	s.adminsPageWith(w, r, http.StatusOK, sess, func(d *adminsPageData) { d.Saved = saved })
}

// addAdmin creates an admin with a generated password and shows it once,
// on this answer: it is not redirected, so a reload asks to resend the
// form (and is then refused as a duplicate) rather than showing it again.
func (s *Server) addAdmin(w http.ResponseWriter, r *http.Request, sess session) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	typed := strings.TrimSpace(r.PostFormValue("email"))
	if len(typed) > maxEmailBytes {
		typed = ""
	}
	normal, problem := checkEmail(r.PostFormValue("email"))
	if problem != "" {
		s.adminsPageWith(w, r, http.StatusUnprocessableEntity, sess, func(d *adminsPageData) {
			d.AddForm = nameForm{Name: typed, Error: problem}
		})
		return
	}
	// 26 base32 characters, 130 random bits: past any guessing, and
	// plain enough to read out or paste into a password manager.
	password := rand.Text()
	hash, err := hashPasswordCtx(r.Context(), password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.opts.Accounts.CreateAccount(r.Context(), collector.Account{Email: normal, PasswordHash: hash, CreatedAt: s.opts.Now().UTC()})
	if errors.Is(err, collector.ErrAccountExists) {
		s.adminsPageWith(w, r, http.StatusUnprocessableEntity, sess, func(d *adminsPageData) {
			d.AddForm = nameForm{Name: typed, Error: "An admin with this email exists already."}
		})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: admin added", "email", normal, "by", sess.Email, "client", clientKey(r))
	s.adminsPageWith(w, r, http.StatusOK, sess, func(d *adminsPageData) {
		d.NewAdmin = &newAdmin{Email: normal, Password: password}
	})
}

// removeAdmin deletes another admin, and with it their sessions, once
// their email is typed again in the confirmation field.
func (s *Server) removeAdmin(w http.ResponseWriter, r *http.Request, sess session) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	d, err := s.adminsData(r, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	email := r.PostFormValue("email")
	if !slices.ContainsFunc(d.Admins, func(a adminRow) bool { return a.Email == email }) {
		s.notFound(w, r)
		return
	}
	confirm := strings.TrimSpace(r.PostFormValue("confirm"))
	if len(confirm) > maxEmailBytes {
		confirm = ""
	}
	refuse := func(problem string) {
		d.RemoveForm = revokeForm{Name: email, Confirm: confirm, Error: problem}
		s.renderAdmins(w, r, http.StatusUnprocessableEntity, sess, d)
	}
	switch {
	case email == sess.Email:
		// Signing oneself out by accident leaves the page with no way
		// back; another admin, or `shadowmap admin delete`, can do it.
		d.Refused = "You cannot remove yourself here: ask another admin, or run “shadowmap admin delete” on the server."
		s.renderAdmins(w, r, http.StatusUnprocessableEntity, sess, d)
		return
	case !strings.EqualFold(confirm, email):
		refuse("Type the admin's email to confirm: they are signed out at once and can no longer sign in with a password.")
		return
	}
	err = s.opts.Accounts.DeleteAccount(r.Context(), email)
	switch {
	case errors.Is(err, collector.ErrLastAccount):
		refuse("This is the last admin: add another one first.")
		return
	case isNotFound(err):
		s.notFound(w, r)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: admin removed", "email", email, "by", sess.Email, "client", clientKey(r))
	http.Redirect(w, r, "/settings/admins?saved=removed", http.StatusSeeOther)
}
