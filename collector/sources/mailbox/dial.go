package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-sasl"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/internal/loopback"
)

// account is one configured mailbox, checked and ready to dial.
type account struct {
	name     string
	addr     string // host:port
	host     string
	tlsMode  string
	tls      *tls.Config // nil for tls none
	auth     string
	username string
	secret   config.Secret
	folders  []string
}

func newAccount(m config.Mailbox) (account, error) {
	a := account{name: m.Name, host: m.Host, tlsMode: m.TLS, auth: m.Auth, username: m.Username, secret: m.Password, folders: m.Folders}
	if a.name == "" {
		return a, errors.New("a mailbox has no name")
	}
	if a.host == "" || a.username == "" {
		return a, fmt.Errorf("mailbox %s: host and username are required", a.name)
	}
	if a.tlsMode == "" {
		a.tlsMode = "implicit"
	}
	if a.auth == "" {
		a.auth = "plain"
	}
	if len(a.folders) == 0 {
		a.folders = []string{"INBOX"}
	}
	port := m.Port
	switch a.tlsMode {
	case "implicit":
		if port == 0 {
			port = 993
		}
	case "starttls", "none":
		if port == 0 {
			port = 143
		}
	default:
		return a, fmt.Errorf("mailbox %s: tls %q: implicit, starttls or none", a.name, a.tlsMode)
	}
	if a.tlsMode == "none" && !loopback.Host(a.host) {
		// The config refuses it too; the importer does not trust that it
		// was validated.
		return a, fmt.Errorf("mailbox %s: tls none is only for a server on this machine", a.name)
	}
	switch a.auth {
	case "plain", "login", "xoauth2":
	default:
		return a, fmt.Errorf("mailbox %s: auth %q: plain, login or xoauth2", a.name, a.auth)
	}
	if a.secret == "" {
		return a, fmt.Errorf("mailbox %s: no password or token", a.name)
	}
	a.addr = net.JoinHostPort(a.host, strconv.Itoa(port))
	if a.tlsMode != "none" {
		cfg := &tls.Config{ServerName: a.host, MinVersion: tls.VersionTLS12}
		if m.CAFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(m.CAFile)
			if err != nil {
				return a, fmt.Errorf("mailbox %s: ca_file: %w", a.name, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return a, fmt.Errorf("mailbox %s: ca_file %s holds no PEM certificate", a.name, m.CAFile)
			}
			cfg.RootCAs = pool
		}
		a.tls = cfg
	}
	return a, nil
}

// conn is a logged-in IMAP connection with a watchdog: the client library
// has read timeouts of its own, but a server that trickles bytes or a
// cancelled run must not hold the importer, so every command runs under
// a deadline that closes the connection when it passes.
type conn struct {
	c        *imapclient.Client
	timeout  time.Duration
	timedOut atomic.Bool
	stopCtx  func() bool
	// watch is the running command's watchdog; only the goroutine that
	// runs commands touches it.
	watch *time.Timer
}

// dial connects and logs in. Errors say what IT should check; they never
// hold the password or token.
func dial(ctx context.Context, a account, dialTimeout, cmdTimeout time.Duration) (*conn, error) {
	opts := &imapclient.Options{
		TLSConfig:   a.tls,
		Dialer:      &net.Dialer{Timeout: dialTimeout},
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
	}
	// DialStartTLS and DialTLS do not take a context: the dialer's
	// timeout bounds the connect, and a run cancelled meanwhile closes
	// what was dialed as soon as the dial returns.
	var (
		c   *imapclient.Client
		err error
	)
	switch a.tlsMode {
	case "implicit":
		c, err = imapclient.DialTLS(a.addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(a.addr, opts)
	default:
		c, err = imapclient.DialInsecure(a.addr, opts)
	}
	if ctx.Err() != nil {
		if c != nil {
			c.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", a.addr, a.tlsMode, explainDialError(err))
	}
	cn := &conn{c: c, timeout: cmdTimeout}
	cn.stopCtx = context.AfterFunc(ctx, func() { c.Close() })
	if err := cn.do(ctx, func() error { return c.WaitGreeting() }); err != nil {
		cn.close()
		return nil, fmt.Errorf("connect to %s: greeting: %w", a.addr, err)
	}
	if err := cn.login(ctx, a); err != nil {
		cn.close()
		return nil, err
	}
	return cn, nil
}

func explainDialError(err error) error {
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &certErr), errors.As(err, &hostErr):
		return fmt.Errorf("the server's TLS certificate is not trusted (give its CA as ca_file): %w", err)
	}
	return err
}

// login authenticates with the account's mechanism.
func (cn *conn) login(ctx context.Context, a account) error {
	var xo *xoauth2Client
	err := cn.do(ctx, func() error {
		switch a.auth {
		case "login":
			return cn.c.Login(a.username, a.secret.Reveal()).Wait()
		case "xoauth2":
			if !cn.c.Caps().Has(imap.AuthCap("XOAUTH2")) {
				return errors.New("the server does not offer AUTH=XOAUTH2")
			}
			xo = &xoauth2Client{user: a.username, token: a.secret.Reveal()}
			return cn.c.Authenticate(xo)
		default:
			if !cn.c.Caps().Has(imap.AuthCap(sasl.Plain)) {
				return errors.New("the server does not offer AUTH=PLAIN: try auth: login")
			}
			return cn.c.Authenticate(sasl.NewPlainClient("", a.username, a.secret.Reveal()))
		}
	})
	if err == nil {
		return nil
	}
	what := "the server refused the username or password"
	if a.auth == "xoauth2" {
		what = "the server refused the OAuth token"
		if xo != nil && xo.failure != nil {
			what = xo.failure.String()
		}
	}
	return &loginError{msg: fmt.Sprintf("log in to %s as %s (%s): %s", a.addr, a.username, a.auth, explainLoginError(err, what))}
}

// loginError is a refused login: retrying will not help.
type loginError struct{ msg string }

func (e *loginError) Error() string { return e.msg }

// explainLoginError says why a login failed. The server's own text is
// kept, cleaned: it never holds the secret, which the client sent
// base64-encoded and the server does not echo.
func explainLoginError(err error, refused string) string {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return err.Error()
	}
	text := printable(ie.Text, maxChallengeText)
	switch ie.Code {
	case imap.ResponseCodePrivacyRequired:
		return "the server wants TLS first: use tls implicit or starttls (" + text + ")"
	case imap.ResponseCodeUnavailable:
		return "the server cannot check credentials now: try later (" + text + ")"
	}
	return refused + " (" + text + ")"
}

// do runs one command under the connection's watchdog: when the server
// sends nothing for the command timeout, the connection is closed, which
// ends the command with an error that do turns into a timeout. Long
// commands (a chunk's FETCH) call touch as answers arrive, so the
// timeout bounds a silence, not a whole chunk.
func (cn *conn) do(ctx context.Context, f func() error) error {
	cn.watch = time.AfterFunc(cn.timeout, func() {
		cn.timedOut.Store(true)
		cn.c.Close()
	})
	err := f()
	cn.watch.Stop()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cn.timedOut.Load() {
			return fmt.Errorf("no answer from the server within %s: %w", cn.timeout, err)
		}
	}
	return err
}

// touch tells the watchdog the server is still answering.
func (cn *conn) touch() {
	if cn.watch != nil {
		cn.watch.Reset(cn.timeout)
	}
}

// close logs out politely, bounded, then closes.
func (cn *conn) close() {
	cn.stopCtx()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cn.c.Logout().Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	cn.c.Close()
}
