package mailbox

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/shadowmap/shadowmap/internal/testcert"
)

// The in-memory server's account.
const (
	testUser     = "ap@example.com"
	testPassword = "correct horse battery staple"
	testToken    = "ya29.test-access-token"
)

// memServer is the in-memory go-imap server on 127.0.0.1:0 with PLAIN,
// LOGIN and an XOAUTH2 mechanism written for the test (imapmemserver
// itself knows PLAIN only).
type memServer struct {
	addr    string
	user    *imapmemserver.User
	caFile  string
	logins  atomic.Int64
	closeFn func()
}

// serverMode is how the test server speaks: "none" (clear, loopback),
// "implicit" (TLS from the first byte) or "starttls".
func startMemServer(t *testing.T, mode string) *memServer {
	t.Helper()
	s := &memServer{user: imapmemserver.NewUser(testUser, testPassword)}
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, _ := testcert.Write(t, dir, "imap", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	s.caFile = certFile
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &testSession{srv: s}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: mode == "none",
		Logger:       discardLogger{},
	}
	if mode == "starttls" {
		opts.TLSConfig = tlsCfg
	}
	srv := imapserver.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode == "implicit" {
		ln = tls.NewListener(ln, tlsCfg)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	s.closeFn = func() { srv.Close() }
	t.Cleanup(s.closeFn)
	return s
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// add appends a message to folder (created when missing) with flags.
func (s *memServer) add(t testing.TB, folder string, raw []byte, flags ...imap.Flag) {
	t.Helper()
	if folder != "INBOX" {
		_ = s.user.Create(folder, nil)
	}
	if _, err := s.user.Append(folder, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Flags: flags, Time: time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
}

type literal struct {
	io.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

// testSession is the in-memory user session with the test's own SASL
// mechanisms.
type testSession struct {
	*imapmemserver.UserSession
	srv *memServer
}

func (sess *testSession) Close() error {
	if sess.UserSession == nil {
		return nil
	}
	return sess.UserSession.Close()
}

func (sess *testSession) Login(username, password string) error {
	if err := sess.srv.user.Login(username, password); err != nil {
		return err
	}
	sess.srv.logins.Add(1)
	sess.UserSession = imapmemserver.NewUserSession(sess.srv.user)
	return nil
}

func (sess *testSession) AuthenticateMechanisms() []string {
	return []string{"PLAIN", "XOAUTH2"}
}

func (sess *testSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return imapserver.ErrAuthFailed
			}
			return sess.Login(username, password)
		}), nil
	case "XOAUTH2":
		return &xoauth2Server{sess: sess}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "unsupported mechanism"}
}

// xoauth2Server is the server side of XOAUTH2 as Gmail speaks it: a bad
// token gets a base64 JSON error challenge, and after the client's empty
// answer, NO.
type xoauth2Server struct {
	sess   *testSession
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Invalid credentials (Failure)"}
	}
	if resp == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	var user, token string
	for _, kv := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(kv, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(kv, "auth=Bearer "); ok {
			token = v
		}
	}
	if user == testUser && token == testToken {
		x.sess.srv.logins.Add(1)
		x.sess.UserSession = imapmemserver.NewUserSession(x.sess.srv.user)
		return nil, true, nil
	}
	x.failed = true
	challenge, _ := json.Marshal(map[string]string{"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"})
	return challenge, false, nil
}

// dropProxy forwards a connection to upstream and cuts it after the
// server has sent `after` FETCH responses: a server or network that
// drops the connection mid-fetch.
type dropProxy struct {
	addr  string
	after int
}

func startDropProxy(t *testing.T, upstream string, after int) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &dropProxy{addr: ln.Addr().String(), after: after}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, upstream)
		}
	}()
	return p
}

func (p *dropProxy) serve(client net.Conn, upstream string) {
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		client.Close()
		return
	}
	var once sync.Once
	cut := func() { once.Do(func() { client.Close(); server.Close() }) }
	defer cut()
	go func() { _, _ = io.Copy(server, client); cut() }()
	// Line by line: a FETCH response starts a line with "* n FETCH (";
	// the test messages hold no such line.
	br := bufio.NewReader(server)
	fetches := 0
	for {
		line, err := br.ReadBytes('\n')
		if bytes.HasPrefix(line, []byte("* ")) && bytes.Contains(line, []byte(" FETCH (")) {
			fetches++
			if fetches > p.after {
				// Half the response, then the cut.
				_, _ = client.Write(line[:len(line)/2])
				return
			}
		}
		if _, werr := client.Write(line); werr != nil || err != nil {
			return
		}
	}
}

// readMessage reads a testdata message.
func readMessage(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "messages", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
