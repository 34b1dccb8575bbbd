package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	directory "google.golang.org/api/admin/directory/v1"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// checkpointSwept is the checkpoint key of the Directory token sweep: the
// time the last completed sweep started (RFC 3339), so a restart does not
// sweep again early and a failed sweep is retried at the next round.
const checkpointSwept = "tokens_swept_at"

// sweepDue reports whether the token sweep should run in this round: it
// costs one tokens.list call per user, and grants change slowly (the
// Reports API's token events, read every round, catch most changes).
func (imp *Importer) sweepDue(ctx context.Context, env *sources.Env) (bool, error) {
	if imp.opts.SweepTokens {
		return true, nil
	}
	cp, ok, err := env.Checkpoint(ctx, Source, checkpointSwept)
	if err != nil {
		return false, fmt.Errorf("read token sweep checkpoint: %w", err)
	}
	if !ok {
		return true, nil
	}
	last, err := time.Parse(time.RFC3339Nano, cp)
	if err != nil {
		env.Log.Warn("unreadable google token sweep checkpoint: sweeping now", "checkpoint", cp)
		return true, nil
	}
	now := env.Now()
	// A last sweep in the future means the clock was set back: waiting
	// for it could skip sweeps for as long as the clock was off.
	if last.After(now) {
		env.Log.Warn("google token sweep checkpoint is in the future: sweeping now", "checkpoint", cp)
		return true, nil
	}
	if next := last.Add(imp.sweepEvery); now.Before(next) {
		env.Log.Debug("google token sweep not due", "last", last, "next", next)
		return false, nil
	}
	return true, nil
}

// importTokens lists every user, then each user's current tokens, and
// makes them the user's whole set of grants: grants revoked since, by the
// user or an admin, stop counting. The sweep's checkpoint moves only once
// every user's tokens are stored.
func (imp *Importer) importTokens(ctx context.Context, env *sources.Env, ds *directory.Service) error {
	// The sweep's start is its time: a grant given while it runs may be
	// missed, and the next sweep is measured from before that.
	at := env.Now()
	env.Progress.SetStage("users")
	var users []string
	token := ""
	for page := 1; ; page++ {
		call := ds.Users.List().Customer(imp.customer).MaxResults(500).
			Fields("nextPageToken", "users(primaryEmail)").Context(ctx)
		if token != "" {
			call = call.PageToken(token)
		}
		res, err := call.Do()
		if err != nil {
			return fmt.Errorf("google users page %d: %w", page, imp.apiError(err))
		}
		for _, u := range res.Users {
			if u != nil && strings.Contains(u.PrimaryEmail, "@") {
				users = append(users, strings.ToLower(u.PrimaryEmail))
			}
		}
		if res.NextPageToken == "" || res.NextPageToken == token {
			break
		}
		token = res.NextPageToken
	}

	env.Progress.SetStage("tokens")
	snap := env.Progress.Snapshot()
	env.Progress.SetTotal(snap.Events + int64(len(users)))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(imp.opts.Concurrency, max(len(users), 1)) {
		wg.Go(func() {
			for user := range work {
				if err := imp.userTokens(ctx, env, ds, user, at); err != nil {
					cancel(err)
				}
				env.Progress.AddEvents(1)
			}
		})
	}
	for _, u := range users {
		select {
		case work <- u:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if err := env.SetCheckpoint(ctx, Source, checkpointSwept, at.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("save token sweep checkpoint: %w", err)
	}
	return nil
}

// userTokens stores one user's current grants. A user deleted since the
// listing has none.
func (imp *Importer) userTokens(ctx context.Context, env *sources.Env, ds *directory.Service, user string, at time.Time) error {
	res, err := ds.Tokens.List(user).Context(ctx).Do()
	if err != nil {
		var ae *sources.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("google tokens of %s: %w", user, imp.apiError(err))
	}
	grants := make([]collector.OAuthGrant, 0, len(res.Items))
	for _, t := range res.Items {
		if g, ok := tokenGrant(env, t, user, at); ok {
			grants = append(grants, g)
		}
	}
	if err := env.Stores.ReplacePersonGrants(ctx, provider, user, grants, at); err != nil {
		return fmt.Errorf("google tokens of %s: %w", user, err)
	}
	return nil
}
