package sources

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestSchedulerBuild: with Build, each round runs the importers Build
// makes then (so a credential changed between rounds is used by the next
// one), and a round whose Build fails runs nothing.
func TestSchedulerBuild(t *testing.T) {
	clock := newFakeClock()
	r, _ := newRunner(t, clock)
	token := "first"
	var used []string
	var buildErr error
	s := &Scheduler{Runner: r,
		Importers: []Importer{importerFunc{"stale", func(ctx context.Context, env *Env) error {
			t.Error("Importers ran although Build is set")
			return nil
		}}},
		Build: func(ctx context.Context) ([]Importer, error) {
			if buildErr != nil {
				return nil, buildErr
			}
			tok := token // captured as built, like an importer's config
			return []Importer{importerFunc{"okta", func(ctx context.Context, env *Env) error {
				used = append(used, tok)
				return nil
			}}}, nil
		},
	}
	s.RunOnce(context.Background())
	token = "second"
	s.RunOnce(context.Background())
	buildErr = errors.New("read credential overrides: database is locked")
	s.RunOnce(context.Background())
	if got := strings.Join(used, ","); got != "first,second" {
		t.Errorf("tokens used by the rounds: %s, want first,second", got)
	}
}
