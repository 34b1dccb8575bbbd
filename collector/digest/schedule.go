package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// SourceName names the digest in source health, next to the importers,
// so a digest that cannot be sent shows where IT already looks.
const SourceName = "digest"

// Attempts is how many times one due check tries to send before it gives
// up until the next check an hour later.
const Attempts = 3

// ComposeFunc renders the digest of week as of now; empty reports a week
// with nothing new, which is sent only when send_empty is on.
type ComposeFunc func(ctx context.Context, week Week, now time.Time) (m Message, empty bool, err error)

// Composer is the ComposeFunc of the real digest: Build, then Message.
func Composer(deps Deps, baseURL, company string) ComposeFunc {
	return func(ctx context.Context, week Week, now time.Time) (Message, bool, error) {
		d, err := Build(ctx, deps, week, now)
		if err != nil {
			return Message{}, false, err
		}
		return d.Message(baseURL, company), d.Empty(), nil
	}
}

// SendFunc delivers a message; Send is the real one.
type SendFunc func(ctx context.Context, cfg config.SMTP, from string, to []string, m Message) error

// Scheduler sends the weekly digest once per week. It keeps no state of
// its own: whether a week went out is in the send log, so a restart, or
// a second collector on the same database, never sends it twice.
type Scheduler struct {
	Config     config.Digest
	Recipients collector.DigestRecipientsStore
	Log        collector.DigestLogStore
	Runs       collector.SourceRunStore
	Compose    ComposeFunc
	// Send defaults to Send; Now to time.Now; Sleep waits out the
	// backoff between attempts and defaults to a timer. Tests replace
	// them to run without waiting.
	Send   SendFunc
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// Backoff is the wait before the second and third attempts: long enough
// for a greylisting server or a restarting relay.
var Backoff = []time.Duration{time.Minute, 5 * time.Minute}

// Due returns the week the digest reports on and the time its digest is
// due, as of now: the digest due in the current week (weekday and hour in
// the time zone) reports the last full week before it.
func Due(cfg config.Digest, now time.Time) (report Week, due time.Time, err error) {
	loc, err := cfg.Location()
	if err != nil {
		return Week{}, time.Time{}, err
	}
	cur := WeekOf(now, loc)
	offset := (int(cfg.WeekdayValue()) + 6) % 7 // days after Monday
	s := cur.Start
	due = time.Date(s.Year(), s.Month(), s.Day()+offset, cfg.Hour, 0, 0, 0, loc)
	return lastFullWeek(now, loc), due, nil
}

// Result is what one Tick did.
type Result struct {
	Week     string // the ISO week checked, "" before the first due time of a week
	Sent     bool
	Skipped  string // why nothing was sent: "not due", "already sent", "nothing new"
	Attempts int
}

// Tick sends the digest when it is due and not yet sent. A failed send is
// recorded in the send log and in source health and returned; the next
// Tick tries again.
func (s *Scheduler) Tick(ctx context.Context) (Result, error) {
	now := s.now()
	week, due, err := Due(s.Config, now)
	if err != nil {
		return Result{}, err
	}
	res := Result{Week: week.ISO()}
	if now.Before(due) {
		res.Skipped = "not due"
		return res, nil
	}
	logged, err := s.Log.DigestWeekStatus(ctx, res.Week)
	if err != nil {
		return res, err
	}
	switch logged {
	case collector.DigestStatusSent:
		res.Skipped = "already sent"
		return res, nil
	case collector.DigestStatusInDoubt:
		res.Skipped = "in doubt"
		return res, nil
	case collector.DigestStatusSending:
		return s.settleInDoubt(ctx, res, now)
	}
	run := collector.SourceRun{Source: SourceName, StartedAt: now}
	to, sendErr := s.deliver(ctx, week, now, &res)
	status := collector.DigestStatusSent
	errMsg := ""
	if sendErr != nil {
		status, errMsg = collector.DigestStatusFailed, sendErr.Error()
	}
	// The log is written even for a quiet week left unsent, so the
	// next Tick does not build the digest again every hour. A failed
	// SMTP attempt was logged by deliver, each on its own row.
	var logErr error
	if sendErr == nil || res.Attempts == 0 {
		logErr = s.Log.RecordDigestSend(ctx, res.Week, to, status, errMsg)
	}
	run.FinishedAt = s.now()
	run.Events = int64(len(to))
	if res.Sent {
		run.Imported = 1
	}
	run.Error = errMsg
	runErr := s.Runs.RecordSourceRun(ctx, run)
	if sendErr != nil {
		s.logger().Warn("digest not sent", "week", res.Week, "attempts", res.Attempts, "err", sendErr)
	} else if res.Sent {
		s.logger().Info("digest sent", "week", res.Week, "recipients", len(to), "attempts", res.Attempts)
	}
	return res, errors.Join(sendErr, logErr, runErr)
}

// settleInDoubt handles a week whose last attempt was cut off between
// "sending" and its outcome: the SMTP server may have taken the mail. The
// digest goes out at most once, so the week is marked in doubt, the
// source health says what happened and how to resend by hand, and
// nothing is sent.
func (s *Scheduler) settleInDoubt(ctx context.Context, res Result, now time.Time) (Result, error) {
	res.Skipped = "in doubt"
	msg := fmt.Sprintf("digest %s: the collector stopped while sending it, so it may not have arrived; "+
		"it is not sent again on its own (to resend: shadowmap digest send --week %s --to ADDRESSES)", res.Week, res.Week)
	logErr := s.Log.RecordDigestSend(ctx, res.Week, nil, collector.DigestStatusInDoubt, msg)
	runErr := s.Runs.RecordSourceRun(ctx, collector.SourceRun{Source: SourceName, StartedAt: now, FinishedAt: s.now(), Error: msg})
	s.logger().Warn("digest in doubt", "week", res.Week, "detail", msg)
	return res, errors.Join(logErr, runErr)
}

// deliver composes and sends with retries; it returns the recipients.
func (s *Scheduler) deliver(ctx context.Context, week Week, now time.Time, res *Result) ([]string, error) {
	to, err := s.Recipients.DigestRecipients(ctx)
	if err != nil {
		return nil, fmt.Errorf("digest: recipients: %w", err)
	}
	if len(to) == 0 {
		return nil, errors.New("digest: no recipients: set them in the web view's settings")
	}
	m, empty, err := s.Compose(ctx, week, now)
	if err != nil {
		return to, fmt.Errorf("digest: build %s: %w", week.ISO(), err)
	}
	if empty && !s.Config.SendEmpty {
		res.Skipped = "nothing new"
		return nil, nil
	}
	send := s.Send
	if send == nil {
		send = Send
	}
	for i := range Attempts {
		if i > 0 {
			if serr := s.sleep(ctx, Backoff[min(i-1, len(Backoff)-1)]); serr != nil {
				return to, errors.Join(err, serr)
			}
		}
		// Each attempt is logged as sending before its first byte goes
		// out, and as failed when it ends in an error: only an exchange
		// cut off by the collector stopping is left at sending, for the
		// next Tick to settle as in doubt. A stop during a backoff wait
		// leaves a failed row, and the next Tick simply tries again.
		if lerr := s.Log.RecordDigestSend(ctx, week.ISO(), to, collector.DigestStatusSending, ""); lerr != nil {
			return to, errors.Join(err, fmt.Errorf("digest: log the send: %w", lerr))
		}
		res.Attempts++
		err = send(ctx, s.Config.SMTP, s.Config.From, to, m)
		if err == nil {
			res.Sent = true
			return to, nil
		}
		if lerr := s.Log.RecordDigestSend(ctx, week.ISO(), to, collector.DigestStatusFailed, err.Error()); lerr != nil {
			return to, errors.Join(err, fmt.Errorf("digest: log the failed send: %w", lerr))
		}
		// Wrong credentials or a TLS mismatch will not fix themselves
		// in minutes; the next hourly Tick tries again.
		var se *SendError
		if errors.As(err, &se) && se.Permanent() {
			break
		}
	}
	return to, err
}

// Run calls Tick at the top of every hour until ctx is done, and once at
// start so a collector started late on Monday still sends.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("digest", "err", err)
		}
		now := s.now()
		next := now.Truncate(time.Hour).Add(time.Hour)
		if err := s.sleep(ctx, next.Sub(now)); err != nil {
			return nil
		}
	}
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) sleep(ctx context.Context, d time.Duration) error {
	return sources.Retry{Sleep: s.Sleep}.Wait(ctx, d)
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
