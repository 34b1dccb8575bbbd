package google

import (
	"context"
	"fmt"
	"time"

	reports "google.golang.org/api/admin/reports/v1"

	"github.com/shadowmap/shadowmap/collector/sources"
)

// checkpointReports is the checkpoint key of the Reports API: the end of
// the last window whose events are all stored (RFC 3339).
const checkpointReports = "reports_until"

// pageSize is the most activities a Reports API page holds.
const pageSize = 1000

// reportStream is one activities.list query of a window.
type reportStream struct {
	application, event, stage string
}

// streams are read in this order in every window: revokes after the
// grants they may end.
var streams = [...]reportStream{
	{"token", "authorize", "token grants"},
	{"token", "revoke", "token revokes"},
	{"saml", "login_success", "saml logins"},
}

// importReports reads the Reports API from the checkpoint (less an
// overlap) or the backfill start to now, window by window, oldest first.
// Google returns a window newest first, so the checkpoint moves only when
// the whole window is stored.
func (imp *Importer) importReports(ctx context.Context, env *sources.Env, rs *reports.Service) error {
	now := env.Now().UTC()
	start := now.Add(-imp.backfill)
	cp, ok, err := env.Checkpoint(ctx, Source, checkpointReports)
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	if ok {
		t, err := time.Parse(time.RFC3339Nano, cp)
		if err != nil {
			env.Log.Warn("unreadable google checkpoint: reading the whole backfill again", "checkpoint", cp)
		} else {
			start = t.Add(-imp.opts.Overlap)
		}
	}
	if oldest := now.Add(-maxBackfill); start.Before(oldest) {
		start = oldest
	}
	for ws := start; ws.Before(now); {
		we := ws.Add(imp.opts.Window)
		if !we.Before(now) || now.Sub(we) < time.Minute {
			we = now
		}
		for _, st := range streams {
			if err := imp.readStream(ctx, env, rs, st, ws, we); err != nil {
				return err
			}
		}
		if err := env.SetCheckpoint(ctx, Source, checkpointReports, we.Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		ws = we
	}
	return nil
}

// readStream reads every page of one query over [ws, we) and stores each
// page as it comes; revokes wait for the stream's end.
func (imp *Importer) readStream(ctx context.Context, env *sources.Env, rs *reports.Service, st reportStream, ws, we time.Time) error {
	env.Progress.SetStage(st.stage)
	b := newBatch()
	token := ""
	for page := 1; ; page++ {
		call := rs.Activities.List("all", st.application).EventName(st.event).
			StartTime(ws.Format(time.RFC3339Nano)).EndTime(we.Format(time.RFC3339Nano)).
			MaxResults(pageSize).Context(ctx)
		if token != "" {
			call = call.PageToken(token)
		}
		res, err := call.Do()
		if err != nil {
			return fmt.Errorf("google %s %s events from %s, page %d: %w", st.application, st.event, ws.Format(time.DateOnly), page, imp.apiError(err))
		}
		for _, a := range res.Items {
			events, skipped := flatten(a)
			env.Progress.AddEvents(int64(len(events) + skipped))
			for _, e := range events {
				if e.App == "" {
					e.App = st.application
				}
				b.add(env.Catalog, e, "google:")
			}
		}
		if err := b.store(ctx, env, false); err != nil {
			return fmt.Errorf("google %s %s events, page %d: %w", st.application, st.event, page, err)
		}
		if res.NextPageToken == "" || res.NextPageToken == token {
			break
		}
		token = res.NextPageToken
	}
	if err := applyRevokes(ctx, env, b.revokes); err != nil {
		return fmt.Errorf("google token revokes: %w", err)
	}
	return nil
}
