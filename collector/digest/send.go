package digest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/shadowmap/shadowmap/collector/config"
)

// go-mail rather than net/smtp: net/smtp is frozen and has no implicit
// TLS, no LOGIN auth (Microsoft 365 and some relays offer only that), no
// dial timeout and no MIME writer; go-mail has all of them and builds a
// correct multipart/alternative with quoted-printable parts.

// ErrorKind says why a send failed, for source health and for whether a
// retry can help.
type ErrorKind string

// Kinds of send errors.
const (
	ErrConnect  ErrorKind = "connect"  // the server could not be reached
	ErrTLS      ErrorKind = "tls"      // TLS mode or certificate mismatch
	ErrAuth     ErrorKind = "auth"     // the server refused the credentials
	ErrRejected ErrorKind = "rejected" // the server refused the sender, a recipient or the message
	ErrOther    ErrorKind = "other"
)

// SendError is a failed send with its kind and a message that says what
// to check, since it ends up in source health where IT reads it.
type SendError struct {
	Kind ErrorKind
	Addr string // host:port
	Hint string
	Err  error
}

func (e *SendError) Error() string {
	msg := fmt.Sprintf("digest: send through %s: %s", e.Addr, e.Hint)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SendError) Unwrap() error { return e.Err }

// Permanent reports whether retrying the same send cannot help soon:
// wrong credentials, a TLS mismatch or a refused address need IT to act.
func (e *SendError) Permanent() bool {
	switch e.Kind {
	case ErrAuth, ErrTLS:
		return true
	case ErrRejected:
		var te *textproto.Error
		if errors.As(e.Err, &te) {
			return te.Code >= 500
		}
		var me *mail.SendError
		return errors.As(e.Err, &me) && !me.IsTemp()
	}
	return false
}

// Send delivers m to every address of to through the SMTP server of cfg
// as one multipart/alternative message (text first, HTML preferred).
func Send(ctx context.Context, cfg config.SMTP, from string, to []string, m Message) error {
	if len(to) == 0 {
		return errors.New("digest: send: no recipients")
	}
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.PortOrDefault()))
	msg := mail.NewMsg()
	if err := msg.From(from); err != nil {
		return fmt.Errorf("digest: from address %q: %w", from, err)
	}
	if err := msg.To(to...); err != nil {
		return fmt.Errorf("digest: recipient address: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)

	opts, err := clientOptions(cfg)
	if err != nil {
		return err
	}
	client, err := mail.NewClient(cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("digest: smtp client for %s: %w", addr, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(addr, cfg, err)
	}
	return nil
}

func clientOptions(cfg config.SMTP) ([]mail.Option, error) {
	tlsConf := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("digest: smtp ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("digest: smtp ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	opts := []mail.Option{mail.WithPort(cfg.PortOrDefault()), mail.WithTLSConfig(tlsConf)}
	if cfg.Timeout > 0 {
		opts = append(opts, mail.WithTimeout(cfg.Timeout))
	}
	switch cfg.TLS {
	case config.SMTPImplicit:
		opts = append(opts, mail.WithSSL())
	case config.SMTPNoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		// Mandatory: a server that does not offer STARTTLS is a
		// mismatch to report, not a reason to send the password in
		// clear.
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if cfg.Username != "" {
		// Config validation allows tls none only on loopback, so
		// plain auth without TLS is allowed exactly there.
		a := &plainOrLogin{user: cfg.Username, pass: cfg.Password.Reveal(), host: cfg.Host,
			unenc: cfg.TLS == config.SMTPNoTLS}
		opts = append(opts, mail.WithSMTPAuthCustom(a))
	}
	return opts, nil
}

// plainOrLogin authenticates with PLAIN, or LOGIN when the server offers
// only that: go-mail's auto-discovery would also pick CRAM-MD5 or SCRAM,
// which need the password stored differently on some servers.
type plainOrLogin struct {
	user, pass, host string
	unenc            bool
	chosen           smtp.Auth
}

func (a *plainOrLogin) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !slices.Contains(server.Auth, "PLAIN") && slices.Contains(server.Auth, "LOGIN") {
		a.chosen = smtp.LoginAuth(a.user, a.pass, a.host, a.unenc)
	} else {
		a.chosen = smtp.PlainAuth("", a.user, a.pass, a.host, a.unenc)
	}
	return a.chosen.Start(server)
}

func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.chosen.Next(fromServer, more)
}

// classify turns go-mail's error into a SendError that says what to
// check.
func classify(addr string, cfg config.SMTP, err error) error {
	e := &SendError{Kind: ErrOther, Addr: addr, Hint: "sending failed", Err: err}
	var (
		te        *textproto.Error
		recHeader tls.RecordHeaderError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		certErr   *tls.CertificateVerificationError
		netErr    net.Error
		mailErr   *mail.SendError
	)
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind, e.Hint = ErrConnect, "connection refused: is the SMTP server running, and are digest.smtp.host and port right?"
	case errors.As(err, &recHeader):
		e.Kind, e.Hint = ErrTLS, "TLS mismatch: the server does not speak implicit TLS on this port; try digest.smtp.tls: starttls (port 587)"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &certErr):
		e.Kind, e.Hint = ErrTLS, "the server's TLS certificate is not trusted: set digest.smtp.ca_file to the CA that signed it, or check digest.smtp.host"
	case strings.Contains(msg, "does not support STARTTLS"):
		e.Kind, e.Hint = ErrTLS, "TLS mismatch: the server does not offer STARTTLS; try digest.smtp.tls: implicit (port 465)"
	case strings.Contains(msg, "tls:"):
		e.Kind, e.Hint = ErrTLS, "TLS handshake failed: check digest.smtp.tls and port"
	case errors.As(err, &te) && (te.Code == 530 || te.Code == 534 || te.Code == 535 || te.Code == 538) && cfg.Username != "",
		strings.Contains(msg, "does not support SMTP AUTH"):
		e.Kind, e.Hint = ErrAuth, "authentication failed: check digest.smtp.username and password"
	case errors.As(err, &te):
		e.Kind, e.Hint = ErrRejected, "the server refused the message"
	case errors.As(err, &mailErr) && mailErr.Reason >= mail.ErrSMTPMailFrom && mailErr.Reason <= mail.ErrSMTPDataClose:
		// go-mail keeps the server's reply inside its own error,
		// without Unwrap, so its code is read from there.
		e.Kind, e.Hint = ErrRejected, "the server refused the message"
		if mailErr.IsTemp() {
			e.Hint = "the server refused the message for now"
		}
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Kind, e.Hint = ErrConnect, "timed out: is the host reachable, and does digest.smtp.tls match the port (implicit on 465, starttls on 587)?"
	case errors.As(err, new(*net.OpError)):
		e.Kind, e.Hint = ErrConnect, "could not connect"
	}
	return e
}
