package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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

const dovecotBinary = "/usr/sbin/dovecot"

// dovecot is a real Dovecot started by a test on loopback ports, with a
// passwd-file user and a Maildir in a temp dir.
type dovecot struct {
	dir       string
	maildir   string
	imapAddr  string // STARTTLS or clear
	imapsAddr string // implicit TLS
	caFile    string
	cmd       *exec.Cmd
}

// needDovecot skips the test when Dovecot cannot run here, unless
// SHADOWMAP_REQUIRE_DOVECOT=1 (CI), where that is a failure.
func needDovecot(t testing.TB) {
	t.Helper()
	testenv.NeedDaemon(t, testenv.Daemon{
		Name: "Dovecot", Binary: dovecotBinary, Package: "dovecot-imapd", User: "dovenull",
		AsRoot: "Dovecot's login processes drop privileges",
	})
}

// startDovecot writes a config and runs `dovecot -F` until the test ends.
// fill, when not nil, fills the Maildir before Dovecot starts.
func startDovecot(t testing.TB, fill func(maildir string)) *dovecot {
	t.Helper()
	needDovecot(t)
	// Dovecot's unprivileged processes must reach the config's files.
	dir, err := os.MkdirTemp("", "shadowmap-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &dovecot{dir: dir, maildir: filepath.Join(dir, "Maildir")}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(d.maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if fill != nil {
		fill(d.maildir)
	}
	// Dovecot will not touch mail as root: the mail belongs to nobody.
	mailUser, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.maildir, filepath.Join(dir, "home")} {
		err := filepath.WalkDir(p, func(path string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, uid, gid)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile, _ := testcert.Write(t, dir, "dovecot", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	d.caFile = certFile
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(testUser+":{PLAIN}"+testPassword+"::::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imapPort, imapsPort := testenv.FreePort(t), testenv.FreePort(t)
	d.imapAddr = "127.0.0.1:" + strconv.Itoa(imapPort)
	d.imapsAddr = "127.0.0.1:" + strconv.Itoa(imapsPort)
	conf := fmt.Sprintf(`# written by the shadowmap mail importer tests
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <%[2]s
ssl_key = <%[3]s
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:%[4]s
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[5]s
}
userdb {
  driver = static
  args = uid=%[8]s gid=%[9]s home=%[1]s/home
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[7]d
    ssl = yes
  }
}
service anvil {
  chroot =
}
`, dir, certFile, keyFile, d.maildir, passwd, imapPort, imapsPort, mailUser.Uid, mailUser.Gid)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d.cmd = exec.Command(dovecotBinary, "-F", "-c", confFile)
	d.cmd.Stdout, d.cmd.Stderr = &out, &out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot log:\n%s", log)
		}
		_ = d.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-exited
		}
	})
	// Ready when both listeners accept.
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range []string{d.imapAddr, d.imapsAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
				t.Fatalf("dovecot exited: %v\n%s\n%s", err, out.String(), log)
			default:
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
				t.Fatalf("dovecot did not listen on %s: %v\n%s\n%s", addr, err, out.String(), log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return d
}

// writeMaildir puts messages into a Maildir the way a delivery agent
// does: new/ for unread mail, cur/ with the S flag for read mail.
func writeMaildir(t testing.TB, maildir string, msgs [][]byte, seen func(i int) bool) {
	t.Helper()
	for i, m := range msgs {
		name := fmt.Sprintf("%d.M%dP1.shadowmap-test,S=%d", 1700000000+i, i, len(m))
		path := filepath.Join(maildir, "new", name)
		if seen != nil && seen(i) {
			path = filepath.Join(maildir, "cur", name+":2,S")
		}
		if err := os.WriteFile(path, m, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// maildirFlags lists the info part (":2,<flags>") of every message file
// in cur/ and the count in new/: Dovecot keeps \Seen in file names.
func maildirFlags(t testing.TB, maildir string) (seen, unseen int) {
	t.Helper()
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			_, info, _ := strings.Cut(e.Name(), ":2,")
			if strings.Contains(info, "S") {
				seen++
			} else {
				unseen++
			}
		}
	}
	return seen, unseen
}

func realAndGenerated(t testing.TB, n int) [][]byte {
	var msgs [][]byte
	for _, name := range realMessages {
		msgs = append(msgs, readMessage(t, name))
	}
	for i := range n {
		if i%10 == 9 {
			msgs = append(msgs, stripeReceipt(i))
		} else {
			msgs = append(msgs, generated(i))
		}
	}
	return msgs
}

func TestDovecot(t *testing.T) {
	msgs := realAndGenerated(t, 50)
	d := startDovecot(t, func(maildir string) {
		writeMaildir(t, maildir, msgs, func(i int) bool { return i%2 == 0 })
	})
	seenBefore, unseenBefore := maildirFlags(t, d.maildir)

	for _, tt := range []struct {
		mode, auth, addr string
	}{
		{"implicit", "plain", d.imapsAddr},
		{"starttls", "login", d.imapAddr},
		{"starttls", "plain", d.imapAddr},
	} {
		t.Run(tt.mode+"/"+tt.auth, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options(20)
			opts.NewClassifier = nil // the real classifier
			imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("ap-inbox", tt.addr, tt.mode, tt.auth, testPassword, d.caFile)}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			env := f.env()
			if err := imp.Import(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			s := env.Progress.Snapshot()
			// The 5 real receipts, invoices and the welcome, and the 5
			// generated receipts.
			if s.Events != int64(len(msgs)) || s.Imported != 10 {
				t.Errorf("progress %+v, want %d read, 10 new", s, len(msgs))
			}
			cp := f.checkpoint(t, "ap-inbox/INBOX")
			if !strings.HasSuffix(cp, ":"+strconv.Itoa(len(msgs))) {
				t.Errorf("checkpoint %q", cp)
			}
			env2 := f.env()
			if err := imp.Import(context.Background(), env2); err != nil {
				t.Fatal(err)
			}
			if s := env2.Progress.Snapshot(); s.Events != 0 || s.Imported != 0 {
				t.Errorf("rescan %+v, want nothing", s)
			}
		})
	}
	if seen, unseen := maildirFlags(t, d.maildir); seen != seenBefore || unseen != unseenBefore {
		t.Errorf("after the scans %d seen, %d unseen; before %d, %d", seen, unseen, seenBefore, unseenBefore)
	}

	t.Run("wrong password", func(t *testing.T) {
		f := newFixture(t)
		imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("ap-inbox", d.imapsAddr, "implicit", "plain", "not-the-password", d.caFile)}}, f.options(0))
		if err != nil {
			t.Fatal(err)
		}
		err = imp.Import(context.Background(), f.env())
		if err == nil || !strings.Contains(err.Error(), "refused the username or password") || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		f := newFixture(t)
		imp, err := New(config.Mail{Mailboxes: []config.Mailbox{mailboxConfig("ap-inbox", d.imapAddr, "starttls", "plain", testPassword, "")}}, f.options(0))
		if err != nil {
			t.Fatal(err)
		}
		var le *loginError
		if err := imp.Import(context.Background(), f.env()); err == nil || !strings.Contains(err.Error(), "not trusted") || errors.As(err, &le) {
			t.Errorf("error %v", err)
		}
	})
}
