package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/signatures"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// InventoryReader is what the pages read of the inventory.
type InventoryReader interface {
	Apps(ctx context.Context, q inventory.Query) (inventory.Page, error)
	App(ctx context.Context, id string) (inventory.AppDetail, error)
	People(ctx context.Context) ([]inventory.Person, error)
}

// Options build a Server.
type Options struct {
	Catalog   *signatures.Catalog
	Inventory InventoryReader
	// Statuses records the inventory's bulk status changes (inventory.go).
	Statuses StatusSetter
	// The app, people, agents and sources pages (app.go, ops.go); a nil
	// store leaves its section of a page empty.
	Evidence     EvidenceLister
	Grants       GrantLister
	IdPApps      IdPAppLister
	Notes        collector.AppNoteStore
	Devices      DeviceLister
	SourceHealth SourceHealthReader
	// Settings returns what the settings page shows; the page is empty
	// when nil.
	Settings func() SettingsView
	// EnrollSecrets, DigestRecipients and Retention are what the settings
	// page changes at run time (settings.go); nil leaves that part
	// read-only.
	EnrollSecrets    collector.EnrollSecretStore
	DigestRecipients collector.DigestRecipientsStore
	Retention        collector.RetentionStore
	// Credentials, CredentialsDir and CredentialSlots let the settings
	// page replace the importers' credentials (credentials.go): the
	// overrides' store, the directory their 0600 files go to, and the
	// credentials the configuration uses. A nil store or an empty
	// directory leaves them read-only.
	Credentials     collector.CredentialStore
	CredentialsDir  string
	CredentialSlots []CredentialSlot
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// Secure marks cookies Secure: the collector serves HTTPS.
	Secure bool
	// Accounts keeps the admins, their sessions and the setup token
	// (auth.go); with none nobody can sign in.
	Accounts collector.AccountStore
	// OIDC turns on sign-in with the company's identity provider
	// (oidc.go); the zero value leaves it off.
	OIDC OIDCSettings
	// DigestPreview renders the weekly digest for /digest; nil hides it.
	DigestPreview DigestPreviewFunc
}

// Server is the web view.
type Server struct {
	opts  Options
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New parses the templates and builds the routes.
func New(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	s.routes()
	return s, nil
}

// Handler is the web view with its security headers.
func (s *Server) Handler() http.Handler { return securityHeaders(s.mux) }

// parseTemplates parses layout.html with each page template, so every
// page defines "title" and "content" and shares the layout.
func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	for _, name := range names {
		base := name[len("templates/") : len(name)-len(".html")]
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs()).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			return fmt.Errorf("web: parse %s: %w", name, err)
		}
		s.pages[base] = t
	}
	return nil
}

// page is what every page template gets.
type page struct {
	Title string
	// Nav names the section highlighted in the navigation.
	Nav string
	// CSRF is the session's token for forms.
	CSRF string
	// User is the signed-in admin, "" on public pages.
	User string
	Data any
}

// render writes a page with the layout. The page is rendered to a buffer
// first, so a template error is a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := s.pages[name]
	if !ok {
		s.fail(w, r, fmt.Errorf("web: no template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.fail(w, r, fmt.Errorf("web: render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail answers 500 and logs why; the page says nothing of the cause.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong on our side; the log says what.", http.StatusInternalServerError)
}

// notFound renders the 404 page.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound", page{Title: "Not found"})
}

// isNotFound reports whether err means the thing asked for does not exist.
func isNotFound(err error) bool { return errors.Is(err, collector.ErrNotFound) }

// securityHeaders sets the headers every answer carries: no framing, no
// sniffing, scripts and styles only from this origin.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// cacheStatic lets browsers keep the embedded assets for a day.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}
