package digest

import (
	"bytes"
	"fmt"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/internal/testcert"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

// The Postfix test runs a private Postfix instance (its own main.cf,
// master.cf, queue and mail directories under the test's temporary
// directory, SMTP on a loopback port) and has it deliver a digest to
// Maildirs with its virtual(8) delivery agent: the path a company's own
// mail relay takes, with a real MTA's SMTP dialect, STARTTLS, queueing and
// header rewriting between our client and the mailbox.

const postfixBinary = "/usr/sbin/postfix"

// needPostfix skips the test when Postfix cannot run here, unless
// SHADOWMAP_REQUIRE_POSTFIX=1 (CI), where that is a failure.
func needPostfix(t *testing.T) {
	t.Helper()
	testenv.NeedDaemon(t, testenv.Daemon{
		Name: "Postfix", Binary: postfixBinary, Package: "postfix", User: "postfix",
		AsRoot: "Postfix's master process starts as root",
	})
}

// postfixInstance is a running private Postfix.
type postfixInstance struct {
	dir    string // configuration directory
	port   int    // smtpd on 127.0.0.1
	caFile string // trusts smtpd's STARTTLS certificate
	mail   string // virtual_mailbox_base
	log    string // maillog_file
}

// startPostfix writes a configuration under a new temporary directory that
// accepts mail for mailboxes (addresses in the virtual domain
// example.test) and starts it until the test ends.
func startPostfix(t *testing.T, mailboxes ...string) *postfixInstance {
	t.Helper()
	needPostfix(t)
	pf, err := user.Lookup("postfix")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pf.Uid)
	gid, _ := strconv.Atoi(pf.Gid)

	root := t.TempDir()
	// Postfix's daemons run as the postfix user and must reach their
	// queue and the mailboxes: open up the test's 0700 directories.
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &postfixInstance{
		dir:  filepath.Join(root, "conf"),
		port: testenv.FreePort(t),
		mail: filepath.Join(root, "mail"),
		log:  filepath.Join(root, "maillog"),
	}
	queue := filepath.Join(root, "queue") // owned by root; postfix makes its subdirectories
	data := filepath.Join(root, "data")
	for _, d := range []string{p.dir, queue, data, p.mail} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{data, p.mail} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile, _ := testcert.Write(t, p.dir, "smtpd", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	p.caFile = certFile

	var vmailbox strings.Builder
	for _, m := range mailboxes {
		local, _, _ := strings.Cut(m, "@")
		fmt.Fprintf(&vmailbox, "%s %s/Maildir/\n", m, local)
	}
	writeFile(t, filepath.Join(p.dir, "vmailbox"), vmailbox.String())
	writeFile(t, filepath.Join(p.dir, "main.cf"), fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s
data_directory = %[2]s
maillog_file = %[3]s
maillog_file_prefixes = %[4]s
myhostname = mx.digest-test.invalid
mydomain = digest-test.invalid
myorigin = $mydomain
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_cert_file = %[5]s
smtpd_tls_key_file = %[6]s
smtpd_tls_received_header = yes
virtual_mailbox_domains = example.test
virtual_mailbox_base = %[7]s
virtual_mailbox_maps = texthash:%[8]s
virtual_uid_maps = static:%[9]d
virtual_gid_maps = static:%[10]d
virtual_minimum_uid = 1
smtputf8_enable = no
alias_maps =
alias_database =
`, queue, data, p.log, root, certFile, keyFile, p.mail, filepath.Join(p.dir, "vmailbox"), uid, gid))
	// Only the services a local delivery needs, none chrooted: the queue
	// lives in the test's directory, not in /var/spool/postfix.
	writeFile(t, filepath.Join(p.dir, "master.cf"), fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
tlsmgr    unix  - - n 1000? 1 tlsmgr
postlog   unix-dgram n - n - 1 postlogd
`, p.port))

	if out, err := exec.Command(postfixBinary, "-c", p.dir, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s\nmaillog:\n%s", err, out, readLog(p.log))
	}
	t.Cleanup(func() {
		pidText, _ := os.ReadFile(filepath.Join(queue, "pid", "master.pid"))
		masterPID, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
		if out, err := exec.Command(postfixBinary, "-c", p.dir, "stop").CombinedOutput(); err != nil {
			t.Errorf("postfix stop: %v\n%s", err, out)
		}
		// postfix stop only signals the master; wait until it is gone
		// before the temporary directory goes.
		if masterPID <= 0 {
			t.Errorf("postfix master pid file holds %q", pidText)
			return
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(masterPID))); os.IsNotExist(err) {
				return
			}
		}
		t.Errorf("postfix master (pid %d) did not stop in 10 s", masterPID)
	})
	// The master binds smtpd's port itself before forking; wait for it.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix smtpd is not listening on %s: %v\nmaillog:\n%s", addr, err, readLog(p.log))
		}
	}
	return p
}

// delivered waits for one message in mailbox's Maildir/new and returns it.
func (p *postfixInstance) delivered(t *testing.T, mailbox string) []byte {
	t.Helper()
	local, _, _ := strings.Cut(mailbox, "@")
	dir := filepath.Join(p.mail, local, "Maildir", "new")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		if len(entries) > 1 {
			t.Fatalf("%s has %d messages, want 1", dir, len(entries))
		}
		if len(entries) == 1 {
			data, err := os.ReadFile(filepath.Join(dir, entries[0].Name()))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing delivered to %s in 20 s\nmaillog:\n%s", dir, readLog(p.log))
		}
	}
}

func TestSendThroughPostfix(t *testing.T) {
	recipients := []string{"it@example.test", "cio@example.test"}
	p := startPostfix(t, recipients...)
	m := fixtureDigest(t).Message(testBase, "Acme & Co")
	cfg := config.SMTP{Host: "127.0.0.1", Port: p.port, TLS: config.SMTPStartTLS, CAFile: p.caFile, Timeout: 10 * time.Second}
	if err := Send(t.Context(), cfg, "Shadowmap <shadowmap@acme.example>", recipients, m); err != nil {
		t.Fatalf("Send: %v\nmaillog:\n%s", err, readLog(p.log))
	}
	for _, rcpt := range recipients {
		t.Run(rcpt, func(t *testing.T) {
			data := p.delivered(t, rcpt)
			msg, err := mail.ReadMessage(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			// Postfix's own headers: who it was delivered to, and that the
			// hop from shadowmap was encrypted.
			if got := msg.Header.Get("Delivered-To"); got != rcpt {
				t.Errorf("Delivered-To = %q, want %q", got, rcpt)
			}
			if rp := msg.Header.Get("Return-Path"); rp != "<shadowmap@acme.example>" {
				t.Errorf("Return-Path = %q", rp)
			}
			if rcv := msg.Header.Get("Received"); !strings.Contains(rcv, "(using TLS") {
				t.Errorf("Received = %q, want the TLS note of a STARTTLS hop", rcv)
			}
			got := parseMIME(t, data)
			if got.Subject != m.Subject {
				t.Errorf("subject = %q, want %q", got.Subject, m.Subject)
			}
			if got.Parts["text/plain"] != m.Text {
				t.Errorf("text part differs from the rendered digest:\n%s", got.Parts["text/plain"])
			}
			if got.Parts["text/html"] != m.HTML {
				t.Errorf("html part differs from the rendered digest:\n%s", got.Parts["text/html"])
			}
			checkEmailHTML(t, got.Parts["text/html"])
			for _, want := range []string{"New apps this week (3)", testBase + "apps/notion", testBase + "sources"} {
				if !strings.Contains(got.Parts["text/plain"], want) {
					t.Errorf("delivered text lacks %q", want)
				}
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(data)
}
