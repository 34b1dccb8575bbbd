package mailbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/sources/mailbox/classify"
	"github.com/shadowmap/shadowmap/signatures"
)

// SourceName is the importer's name in health, logs and `shadowmap
// import`.
const SourceName = "mail"

// Defaults for Options.
const (
	DefaultChunkSize      = 500
	DefaultDialTimeout    = 30 * time.Second
	DefaultCommandTimeout = 2 * time.Minute
)

// headerFields are the header fields fetched for every message: what the
// classifier needs to decide whether the body is worth fetching.
var headerFields = []string{"Message-ID", "From", "Reply-To", "To", "Subject", "Date", "List-Unsubscribe"}

// Classifier is the judgement the importer asks of each message. The
// default is the classify package with the run's catalog; tests of the
// IMAP side may give their own.
type Classifier interface {
	// Candidate says whether a message is worth fetching whole, from its
	// headers alone, and why.
	Candidate(h classify.Header) (bool, string)
	// Classify reads one whole message.
	Classify(raw io.Reader) classify.Result
	// Evidence turns a result into an evidence row for the mailbox,
	// false when the result is not evidence.
	Evidence(r classify.Result, mailbox string) (collector.Evidence, bool)
}

// Options tunes the importer; the zero value is the defaults.
type Options struct {
	// Retry governs reconnecting after a failed connect (not after a
	// refused login, which a retry would not fix).
	Retry sources.Retry
	// ChunkSize is how many messages one FETCH reads and one checkpoint
	// covers; DefaultChunkSize when 0.
	ChunkSize int
	// DialTimeout bounds a connect, TLS included; CommandTimeout the
	// wait for the server's next answer within a command.
	DialTimeout    time.Duration
	CommandTimeout time.Duration
	// NewClassifier builds the run's classifier from its catalog; nil
	// means the classify package.
	NewClassifier func(*signatures.Catalog) Classifier
}

// Importer scans every configured mailbox and folder.
type Importer struct {
	accounts []account
	maxBytes int64
	opts     Options
}

var _ sources.Importer = (*Importer)(nil)

// New checks cfg and returns the importer. Nothing is dialled until
// Import.
func New(cfg config.Mail, opts Options) (*Importer, error) {
	if len(cfg.Mailboxes) == 0 {
		return nil, errors.New("mail import: no mailboxes configured")
	}
	imp := &Importer{maxBytes: cfg.MaxMessageBytes, opts: opts}
	if imp.maxBytes <= 0 {
		imp.maxBytes = config.DefaultMaxMessageBytes
	}
	if imp.opts.ChunkSize <= 0 {
		imp.opts.ChunkSize = DefaultChunkSize
	}
	if imp.opts.DialTimeout <= 0 {
		imp.opts.DialTimeout = DefaultDialTimeout
	}
	if imp.opts.CommandTimeout <= 0 {
		imp.opts.CommandTimeout = DefaultCommandTimeout
	}
	seen := map[string]bool{}
	for _, m := range cfg.Mailboxes {
		a, err := newAccount(m)
		if err != nil {
			return nil, fmt.Errorf("mail import: %w", err)
		}
		if seen[a.name] {
			return nil, fmt.Errorf("mail import: mailbox name %q used twice", a.name)
		}
		seen[a.name] = true
		imp.accounts = append(imp.accounts, a)
	}
	return imp, nil
}

// Name is "mail".
func (imp *Importer) Name() string { return SourceName }

// Import scans every mailbox. A mailbox that fails does not stop the
// others; the run's error joins the failures. Messages skipped (too
// large, unreadable) do not fail a run: they are logged and counted in
// the checkpoint "<mailbox>/skipped".
func (imp *Importer) Import(ctx context.Context, env *sources.Env) error {
	cl := imp.classifier(env)
	var errs []error
	for _, a := range imp.accounts {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := imp.scanAccount(ctx, env, cl, a); err != nil {
			errs = append(errs, fmt.Errorf("mailbox %s: %w", a.name, err))
		}
	}
	return errors.Join(errs...)
}

func (imp *Importer) classifier(env *sources.Env) Classifier {
	if imp.opts.NewClassifier != nil {
		return imp.opts.NewClassifier(env.Catalog)
	}
	return catalogClassifier{catalog: env.Catalog, maxBytes: imp.maxBytes, now: env.Now}
}

// scan is one run over one mailbox.
type scan struct {
	imp  *Importer
	env  *sources.Env
	cl   Classifier
	acct account
	cn   *conn
	// skipped counts skipped messages by reason, since the first scan;
	// it is stored with each chunk's checkpoint.
	skipped map[string]int64
	// runSkipped is this run's share, for the log.
	runSkipped map[string]int64
	// total is the messages this run will read, over the folders
	// selected so far.
	total int64
}

func (imp *Importer) scanAccount(ctx context.Context, env *sources.Env, cl Classifier, a account) error {
	env.Progress.SetStage(a.name + ": connecting")
	cn, err := imp.connect(ctx, env, a)
	if err != nil {
		return err
	}
	defer cn.close()
	s := &scan{imp: imp, env: env, cl: cl, acct: a, cn: cn, runSkipped: map[string]int64{}}
	if s.skipped, err = s.loadSkipped(ctx); err != nil {
		return err
	}
	var errs []error
	for _, folder := range a.folders {
		err := s.scanFolder(ctx, folder)
		if err == nil {
			continue
		}
		errs = append(errs, fmt.Errorf("folder %s: %w", folder, err))
		var ie *imap.Error
		if !errors.As(err, &ie) {
			// Not a refusal of this folder: the connection is gone.
			break
		}
	}
	if n := sum(s.runSkipped); n > 0 {
		env.Log.Info("mail: skipped messages", "mailbox", a.name, "skipped", n, "reasons", formatCounts(s.runSkipped))
	}
	return errors.Join(errs...)
}

// connect dials, retrying failed connects with backoff; a refused login
// or an untrusted certificate is not retried.
func (imp *Importer) connect(ctx context.Context, env *sources.Env, a account) (*conn, error) {
	attempts := imp.opts.Retry.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	base := imp.opts.Retry.Base
	if base <= 0 {
		base = time.Second
	}
	var lastErr error
	for i := range attempts {
		if i > 0 {
			if err := imp.opts.Retry.Wait(ctx, base<<(i-1)); err != nil {
				return nil, errors.Join(lastErr, err)
			}
		}
		cn, err := dial(ctx, a, imp.opts.DialTimeout, imp.opts.CommandTimeout)
		if err == nil {
			return cn, nil
		}
		var (
			le      *loginError
			certErr *tls.CertificateVerificationError
		)
		if ctx.Err() != nil || errors.As(err, &le) || errors.As(err, &certErr) {
			// Retrying will not change the password or the certificate.
			return nil, err
		}
		lastErr = err
		env.Log.Warn("mail: connect failed, retrying", "mailbox", a.name, "attempt", i+1, "err", err)
	}
	return nil, lastErr
}

// folderCheckpoint is where a folder's scan stands.
type folderCheckpoint struct {
	uidValidity uint32
	lastUID     imap.UID
}

func (f folderCheckpoint) String() string {
	return strconv.FormatUint(uint64(f.uidValidity), 10) + ":" + strconv.FormatUint(uint64(f.lastUID), 10)
}

func parseFolderCheckpoint(v string) (folderCheckpoint, bool) {
	a, b, ok := strings.Cut(v, ":")
	if !ok {
		return folderCheckpoint{}, false
	}
	uv, err1 := strconv.ParseUint(a, 10, 32)
	last, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil {
		return folderCheckpoint{}, false
	}
	return folderCheckpoint{uint32(uv), imap.UID(last)}, true
}

func (s *scan) checkpointKey(folder string) string { return s.acct.name + "/" + folder }
func (s *scan) skippedKey() string                 { return s.acct.name + "/skipped" }

func (s *scan) scanFolder(ctx context.Context, folder string) error {
	env := s.env
	env.Progress.SetStage(s.acct.name + "/" + folder + ": selecting")
	key := s.checkpointKey(folder)
	raw, found, err := env.Checkpoint(ctx, SourceName, key)
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	var cp folderCheckpoint
	if found {
		var ok bool
		if cp, ok = parseFolderCheckpoint(raw); !ok {
			env.Log.Warn("mail: unreadable checkpoint, scanning the folder from the start", "key", key, "value", raw)
		}
	}

	var sel *imap.SelectData
	err = s.cn.do(ctx, func() (err error) {
		sel, err = s.cn.c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("examine: %w", err)
	}
	if cp.uidValidity != sel.UIDValidity {
		if found {
			// The server renumbered the folder: every UID is new. Evidence
			// dedupe keys (Message-ID) keep the rescan from adding rows.
			env.Log.Info("mail: UIDVALIDITY changed, rescanning the folder", "mailbox", s.acct.name, "folder", folder, "was", cp.uidValidity, "now", sel.UIDValidity)
		}
		cp = folderCheckpoint{uidValidity: sel.UIDValidity}
	}
	if sel.NumMessages == 0 || sel.UIDNext != 0 && sel.UIDNext <= cp.lastUID+1 {
		// Nothing new: the cheap path of every rescan.
		if !found || raw != cp.String() {
			return env.SetCheckpoint(ctx, SourceName, key, cp.String())
		}
		return nil
	}

	var uids []imap.UID
	err = s.cn.do(ctx, func() error {
		var set imap.UIDSet
		set.AddRange(cp.lastUID+1, 0) // lastUID+1:*
		data, err := s.cn.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
		if err != nil {
			return err
		}
		uids = data.AllUIDs()
		return nil
	})
	if err != nil {
		return fmt.Errorf("search new messages: %w", err)
	}
	// "n:*" always matches the newest message, even below n.
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return u <= cp.lastUID })
	slices.Sort(uids)
	uids = slices.Compact(uids)
	if len(uids) == 0 {
		return nil
	}
	s.total += int64(len(uids))
	env.Progress.SetTotal(s.total)
	env.Progress.SetStage(s.acct.name + "/" + folder + ": reading")

	for start := 0; start < len(uids); start += s.imp.opts.ChunkSize {
		chunk := uids[start:min(start+s.imp.opts.ChunkSize, len(uids))]
		if err := s.scanChunk(ctx, folder, cp, chunk); err != nil {
			return fmt.Errorf("messages %d-%d of %d (UID %d-%d): %w", start+1, start+len(chunk), len(uids), chunk[0], chunk[len(chunk)-1], err)
		}
		cp.lastUID = chunk[len(chunk)-1]
	}
	return nil
}

// scanChunk reads one chunk: headers of all, bodies of the candidates;
// stores its evidence, then moves the checkpoint past it.
func (s *scan) scanChunk(ctx context.Context, folder string, cp folderCheckpoint, chunk []imap.UID) error {
	chunkSkipped := map[string]int64{}
	var bodies imap.UIDSet
	err := s.cn.do(ctx, func() error {
		cmd := s.cn.c.Fetch(imap.UIDSetNum(chunk...), &imap.FetchOptions{
			UID:         true,
			Envelope:    true,
			RFC822Size:  true,
			BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, HeaderFields: headerFields, Peek: true}},
		})
		defer cmd.Close()
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			buf, err := msg.Collect()
			if err != nil {
				return err
			}
			s.cn.touch()
			s.env.Progress.AddEvents(1)
			var fields []byte
			if len(buf.BodySection) > 0 {
				fields = buf.BodySection[0].Bytes
			}
			h := headerOf(fields, buf.Envelope)
			ok, _ := s.cl.Candidate(h)
			switch {
			case !ok:
			case buf.RFC822Size > s.imp.maxBytes:
				chunkSkipped["too_large"]++
			default:
				bodies.AddNum(buf.UID)
			}
		}
		return cmd.Close()
	})
	if err != nil {
		return fmt.Errorf("fetch headers: %w", err)
	}

	var evidence []collector.Evidence
	if len(bodies) > 0 {
		err = s.cn.do(ctx, func() error {
			cmd := s.cn.c.Fetch(bodies, &imap.FetchOptions{
				UID:         true,
				BodySection: []*imap.FetchItemBodySection{{Peek: true}},
			})
			defer cmd.Close()
			for {
				msg := cmd.Next()
				if msg == nil {
					break
				}
				res, reason, err := s.classifyMessage(msg)
				if err != nil {
					return err
				}
				s.cn.touch()
				if reason != "" {
					chunkSkipped[reasonKey(reason)]++
					continue
				}
				if ev, ok := s.cl.Evidence(res, s.acct.name+"/"+folder); ok {
					if ev.Person == "" && strings.Contains(s.acct.username, "@") {
						// Mail to no one named (Bcc) was paid by the
						// mailbox it sits in.
						ev.Person = strings.ToLower(s.acct.username)
					}
					evidence = append(evidence, ev)
				}
			}
			return cmd.Close()
		})
		if err != nil {
			return fmt.Errorf("fetch bodies: %w", err)
		}
	}
	if _, err := s.env.AddEvidence(ctx, evidence); err != nil {
		return err
	}
	cp.lastUID = chunk[len(chunk)-1]
	if err := s.env.SetCheckpoint(ctx, SourceName, s.checkpointKey(folder), cp.String()); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	if len(chunkSkipped) > 0 {
		// Counted only once the chunk is stored, so a chunk read again
		// after a failure is not counted twice.
		for r, n := range chunkSkipped {
			s.skipped[r] += n
			s.runSkipped[r] += n
			s.env.Progress.Skip(r, n)
		}
		if err := s.storeSkipped(ctx); err != nil {
			return err
		}
	}
	return nil
}

// classifyMessage reads one fetched body and classifies it. The body is
// read through a limit: a server may send more than RFC822.SIZE said.
func (s *scan) classifyMessage(msg *imapclient.FetchMessageData) (classify.Result, string, error) {
	var (
		res    classify.Result
		reason = "no_body"
	)
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		body, ok := item.(imapclient.FetchItemDataBodySection)
		if !ok || body.Literal == nil {
			continue
		}
		if body.Literal.Size() > s.imp.maxBytes {
			reason = "too_large"
			if _, err := io.Copy(io.Discard, body.Literal); err != nil {
				return res, "", err
			}
			continue
		}
		raw, err := io.ReadAll(io.LimitReader(body.Literal, s.imp.maxBytes+1))
		if err != nil {
			return res, "", err
		}
		res = s.cl.Classify(bytes.NewReader(raw))
		reason = res.Skipped
	}
	return res, reason, nil
}

// skippedRecord is the JSON kept in the "<mailbox>/skipped" checkpoint
// for source health.
type skippedRecord struct {
	Total   int64            `json:"total"`
	Reasons map[string]int64 `json:"reasons"`
	Updated time.Time        `json:"updated"`
}

func (s *scan) loadSkipped(ctx context.Context) (map[string]int64, error) {
	raw, found, err := s.env.Checkpoint(ctx, SourceName, s.skippedKey())
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	counts := map[string]int64{}
	if found {
		var rec skippedRecord
		if err := json.Unmarshal([]byte(raw), &rec); err == nil && rec.Reasons != nil {
			counts = rec.Reasons
		}
	}
	return counts, nil
}

func (s *scan) storeSkipped(ctx context.Context) error {
	rec := skippedRecord{Total: sum(s.skipped), Reasons: s.skipped, Updated: s.env.Now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.env.SetCheckpoint(ctx, SourceName, s.skippedKey(), string(data)); err != nil {
		return fmt.Errorf("store skipped counts: %w", err)
	}
	return nil
}

// Skipped reads a mailbox's counts of skipped messages by reason, as the
// importer keeps them for source health.
func Skipped(ctx context.Context, cps collector.CheckpointStore, mailbox string) (map[string]int64, error) {
	raw, found, err := cps.Checkpoint(ctx, SourceName, mailbox+"/skipped")
	if err != nil || !found {
		return nil, err
	}
	var rec skippedRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, fmt.Errorf("skipped counts of %s: %w", mailbox, err)
	}
	return rec.Reasons, nil
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// formatCounts is "too_large=2 bad_mime=1", reasons sorted.
func formatCounts(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
