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

// importTokens lists every user, then each user's current tokens, and
// makes them the user's whole set of grants: grants revoked since, by the
// user or an admin, stop counting.
func (imp *Importer) importTokens(ctx context.Context, env *sources.Env, ds *directory.Service) error {
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
	at := env.Now()

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
