// Package demo is `shadowmap demo`: a collector on its embedded SQLite fed
// with a simulated company through the real pipeline, so that a newcomer
// sees a full inventory with one command. Laptops' traffic is written as
// pcap files and read by the agent's capture and aggregation code, then
// enrolled and uploaded through the ingest API; Google Workspace and
// Entra exports are imported by their file importers; invoices and sign-up
// mails are read over IMAP from an in-memory server by the mail importer.
// Nothing is inserted into the store behind the pipeline's back except
// IT's review decisions, which the web view would record the same way.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/service"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/sources/entra"
	"github.com/shadowmap/shadowmap/collector/sources/google"
	"github.com/shadowmap/shadowmap/collector/sources/mailbox"
	"github.com/shadowmap/shadowmap/signatures"
	"github.com/shadowmap/shadowmap/web"
)

// Defaults of Options.
const (
	DefaultDataDir = "demo-data"
	DefaultListen  = "127.0.0.1:8080"
	DefaultPeople  = 300
)

// AdminEmail is the demo's web admin.
const AdminEmail = "demo@" + Domain

// markerFile marks a directory as the demo's: only such a directory (or
// an empty or missing one) is wiped, so that --data-dir pointed at a real
// collector's data by mistake is refused rather than deleted.
const markerFile = ".shadowmap-demo"

// The files `shadowmap serve` generates its credentials into when none are
// configured (collector/service/bootstrap.go): the demo uses them as a
// bare `shadowmap serve` would.
const (
	enrollSecretFile = "enroll-secret"
	adminTokenFile   = "admin-token"
)

// Options configure a demo.
type Options struct {
	// DataDir holds the demo's database, credentials and generated
	// exports; it is wiped and recreated on every run.
	DataDir string
	// Listen is the collector's address.
	Listen string
	// People is the company's head count; Laptops how many of them run
	// the agent (default 2 in 5).
	People  int
	Laptops int
	// Seed makes the company: the same seed gives the same people, apps
	// and bills.
	Seed uint64
	// Now is the clock the history is generated back from.
	Now func() time.Time
	Log *slog.Logger
	// Progress gets a line per step, or nil.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.People <= 0 {
		o.People = DefaultPeople
	}
	if o.Laptops <= 0 {
		o.Laptops = o.People * 2 / 5
	}
	o.Laptops = min(o.Laptops, o.People)
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Stats count what went through the pipeline.
type Stats struct {
	People, Laptops int
	Packets         uint64 // in the laptops' captures
	Names           uint64 // DNS names and server names the agent read
	Matched         uint64 // names that matched an app in use
	Dropped         uint64 // noise, unknown names and static or marketing domains
	Sightings       int    // aggregated sightings uploaded
	GoogleEvents    int64
	EntraEvents     int64
	Mails           int
	MailEvidence    int64
	Decisions       int // IT review decisions recorded
}

// Demo is a running demo collector.
type Demo struct {
	// URL is the collector's base URL.
	URL string
	// DataDir is where the database and credentials are.
	DataDir string
	// AdminToken is the admin API token (also in DataDir/admin-token).
	AdminToken string
	// AdminEmail and AdminPassword sign in to the web view. The password
	// is random, new on every run, and kept nowhere but here.
	AdminEmail, AdminPassword string
	Stats                     Stats

	accounts collector.AccountStore
	stop     func() error
}

// Close stops the collector and closes its store.
func (d *Demo) Close() error { return d.stop() }

// Start wipes the data directory, starts the collector on it and feeds it
// the company. The collector serves until Close or ctx ends.
func Start(ctx context.Context, o Options) (_ *Demo, err error) {
	o.defaults()
	if err := prepareDataDir(o.DataDir); err != nil {
		return nil, err
	}
	catalog, err := signatures.Embedded()
	if err != nil {
		return nil, err
	}
	now := o.Now().UTC()
	co, err := newCompany(catalog, o.Seed, o.People, o.Laptops)
	if err != nil {
		return nil, err
	}

	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load("", []string{
		"SHADOWMAP_DATA_DIR=" + abs,
		"SHADOWMAP_DATABASE=" + filepath.Join(abs, "shadowmap.db"),
		"SHADOWMAP_EMAIL_DOMAIN=" + Domain,
		"SHADOWMAP_LISTEN=" + o.Listen,
	}, nil)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("demo: listen on %s: %w (is a collector already running? try --listen 127.0.0.1:8081)", o.Listen, err)
	}
	c, err := service.New(ctx, cfg, o.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Serve(sctx, ln) }()
	d := &Demo{URL: "http://" + ln.Addr().String(), DataDir: abs}
	var once sync.Once
	var stopErr error
	d.stop = func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
			if cerr := c.Close(); stopErr == nil {
				stopErr = cerr
			}
		})
		return stopErr
	}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()

	secret, err := readSecret(filepath.Join(abs, enrollSecretFile))
	if err != nil {
		return nil, err
	}
	if d.AdminToken, err = readSecret(filepath.Join(abs, adminTokenFile)); err != nil {
		return nil, err
	}
	d.Stats.People, d.Stats.Laptops = o.People, o.Laptops
	runner := &sources.Runner{Stores: c.Store(), Runs: c.Store(), Catalog: catalog, Log: o.Log}

	exports := filepath.Join(abs, "exports")
	if err := os.MkdirAll(exports, 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "demo: %d laptops: writing captures, replaying them through the agent, uploading\n", o.Laptops)
	if err := feedLaptops(ctx, co, o.Seed, now, d.URL, secret, exports, &d.Stats); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "demo: Google Workspace: importing OAuth token and SAML login events\n")
	gpaths, err := co.googleFiles(exports, now)
	if err != nil {
		return nil, err
	}
	run, err := runner.Run(ctx, google.NewFileImporter(gpaths), nil)
	if err != nil {
		return nil, err
	}
	d.Stats.GoogleEvents = run.Events
	fmt.Fprintf(o.Progress, "demo: Entra: importing the sign-in log export\n")
	epath, err := co.entraFile(exports, now)
	if err != nil {
		return nil, err
	}
	if run, err = runner.Run(ctx, entra.NewFileImporter([]string{epath}), nil); err != nil {
		return nil, err
	}
	d.Stats.EntraEvents = run.Events
	mails := co.mailbox(now)
	d.Stats.Mails = len(mails)
	fmt.Fprintf(o.Progress, "demo: mail: importing %d messages over IMAP\n", len(mails))
	if d.Stats.MailEvidence, err = importMail(ctx, runner, mails); err != nil {
		return nil, err
	}
	n, err := decide(ctx, c.Store(), now)
	if err != nil {
		return nil, err
	}
	d.Stats.Decisions = n
	d.AdminEmail, d.AdminPassword, d.accounts = AdminEmail, randomPassword(), c.Store()
	if err := web.CreateAdmin(ctx, c.Store(), d.AdminEmail, d.AdminPassword, now); err != nil {
		return nil, fmt.Errorf("demo: create the admin: %w", err)
	}
	return d, nil
}

// prepareDataDir empties dir if it is the demo's (or creates it), and
// refuses a directory that holds anything else.
func prepareDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: data dir: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
			return fmt.Errorf("demo: %s is not empty and is not a demo directory: refusing to wipe it (pick another --data-dir)", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("demo: wipe %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo: data dir: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, markerFile), []byte("shadowmap demo data: wiped by every `shadowmap demo` run\n"), 0o600)
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("demo: the collector wrote no credentials: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// feedLaptops runs every laptop through capture, agent replay and upload,
// a few at a time.
// The first laptop's capture is kept in sampleDir, for trying the agent
// on it (shadowmap-agent replay).
func feedLaptops(ctx context.Context, co *company, seed uint64, now time.Time, url, secret, sampleDir string, st *Stats) error {
	sample := slices.IndexFunc(co.people, func(p *person) bool { return p.Laptop != nil })
	client := api.NewClient(url, nil)
	hellos := &clientHellos{}
	var (
		packets, names   atomic.Uint64
		matched, dropped atomic.Uint64
		sightings        atomic.Int64
		wg               sync.WaitGroup
		mu               sync.Mutex
		firstErr         error
	)
	work := make(chan int)
	for range max(2, min(8, runtime.GOMAXPROCS(0))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := co.people[i]
				err := func() error {
					pcap, err := laptopCapture(p, i, seed, now, hellos)
					if err != nil {
						return err
					}
					if i == sample {
						if err := os.WriteFile(filepath.Join(sampleDir, p.Laptop.Hostname+".pcap"), pcap, 0o600); err != nil {
							return err
						}
					}
					s, cs, ms, err := replayLaptop(pcap, co.catalog, p.User)
					if err != nil {
						return fmt.Errorf("replay %s: %w", p.Laptop.Hostname, err)
					}
					names.Add(ms.Names)
					matched.Add(ms.Matched)
					dropped.Add(ms.Noise + ms.Unmatched + ms.NotUse)
					packets.Add(cs.Packets)
					sightings.Add(int64(len(s)))
					return uploadLaptop(ctx, client, secret, p, s, cs.Packets)
				}()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i, p := range co.people {
		if p.Laptop == nil {
			continue
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	st.Packets, st.Names, st.Sightings = packets.Load(), names.Load(), int(sightings.Load())
	st.Matched, st.Dropped = matched.Load(), dropped.Load()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// importMail serves the messages from an in-memory IMAP server on
// loopback and runs the mail importer against it.
func importMail(ctx context.Context, runner *sources.Runner, mails []mailMessage) (int64, error) {
	const user = "ap@" + Domain
	password := randomPassword()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(user, password)
	if err := u.Create("INBOX", nil); err != nil {
		return 0, err
	}
	for _, m := range mails {
		if _, err := u.Append("INBOX", bytes.NewReader(m.raw), &imap.AppendOptions{Time: m.date}); err != nil {
			return 0, fmt.Errorf("demo mailbox: %w", err)
		}
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}},
		// Loopback only, as the importer's "tls: none" requires.
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	imp, err := mailbox.New(config.Mail{Mailboxes: []config.Mailbox{{
		Name: "ap", Host: "127.0.0.1", Port: port, TLS: "none", Username: user, Password: config.Secret(password),
	}}}, mailbox.Options{})
	if err != nil {
		return 0, err
	}
	run, err := runner.Run(ctx, imp, nil)
	return run.Imported, err
}

// decisions are what IT of the simulated company has decided so far.
var decisions = []struct {
	app    string
	status collector.Status
	why    string
}{
	{"slack", collector.StatusApproved, "Company chat. SSO through Google Workspace; SCIM project planned for Q1."},
	{"github", collector.StatusApproved, "Engineering source control, bought on the Team plan."},
	{"notion", collector.StatusApproved, "Company wiki; move to Business for SAML at the renewal."},
	{"figma", collector.StatusApproved, "Design team tool, annual Professional plan."},
	{"miro", collector.StatusTolerated, "Several teams pay for it; consolidate with FigJam before the renewal."},
	{"zoom", collector.StatusTolerated, "Sales still needs it for customer calls; Google Meet is the default."},
	{"dropbox", collector.StatusNotPermitted, "Company files belong in Google Drive; Dropbox has Drive access through OAuth grants."},
	{"chatgpt", collector.StatusNotPermitted, "Personal AI subscriptions may not receive customer data: use the company's Claude workspace."},
}

type statusSetter interface {
	SetStatus(ctx context.Context, c collector.StatusChange) (collector.StatusChange, error)
}

// decide records IT's decisions, through the store as the web view and
// the API do.
func decide(ctx context.Context, st statusSetter, now time.Time) (int, error) {
	n := 0
	for i, d := range decisions {
		at := now.Add(-time.Duration(len(decisions)-i) * 26 * time.Hour)
		if _, err := st.SetStatus(ctx, collector.StatusChange{AppID: d.app, To: d.status, By: "it@" + Domain, Why: d.why, At: at}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// randomPassword is the in-memory mailbox's password: it lives only as
// long as the import.
func randomPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
