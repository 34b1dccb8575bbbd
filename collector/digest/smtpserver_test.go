package digest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/internal/testcert"
)

// received is one message the test server accepted.
type received struct {
	From string
	To   []string
	Data []byte
}

// testServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1:0 that records what arrives.
type testServer struct {
	Host   string
	Port   int
	CAFile string // the self-signed certificate, for ca_file

	mu       sync.Mutex
	msgs     []received
	refuse   int // refuse this many messages with 451 before accepting
	attempts int
	user     string
	pass     string
}

type serverOpts struct {
	tls    string // starttls, implicit, none
	user   string
	pass   string
	refuse int
}

func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	ts := &testServer{refuse: o.refuse, user: o.user, pass: o.pass}
	s := smtp.NewServer(backend{ts})
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.AllowInsecureAuth = o.tls == config.SMTPNoTLS
	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.tls != config.SMTPNoTLS {
		certFile, keyFile, _ := testcert.Write(t, t.TempDir(), "smtp", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		ts.CAFile = certFile
		tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
		if o.tls == config.SMTPImplicit {
			l = tls.NewListener(l, tlsConf)
		} else {
			s.TLSConfig = tlsConf
		}
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	addr := l.Addr().(*net.TCPAddr)
	ts.Host, ts.Port = "127.0.0.1", addr.Port
	return ts
}

// cfg returns the client configuration for the server.
func (ts *testServer) cfg(mode, user, pass string) config.SMTP {
	return config.SMTP{Host: ts.Host, Port: ts.Port, TLS: mode, CAFile: ts.CAFile, Username: user,
		Password: config.Secret(pass), Timeout: 10 * time.Second}
}

func (ts *testServer) Addr() string { return net.JoinHostPort(ts.Host, strconv.Itoa(ts.Port)) }

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

type backend struct{ ts *testServer }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{ts: b.ts}, nil }

type session struct {
	ts     *testServer
	authed bool
	cur    received
}

func (s *session) AuthMechanisms() []string {
	if s.ts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.ts.user || password != s.ts.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.attempts++
	if s.ts.attempts <= s.ts.refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.cur = received{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.cur.From == "" {
		return errors.New("data without mail")
	}
	s.cur.Data = data
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, s.cur)
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }
