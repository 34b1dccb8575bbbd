package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// logFilter selects the events the import reads: sign-ins to apps through
// Okta, and the OAuth 2.0 / OIDC events of Okta's authorization servers.
const logFilter = `eventType eq "user.authentication.sso" or eventType sw "app.oauth2"`

// checkpointKey is the System Log's checkpoint.
const checkpointKey = "system_log"

// logTimeLayout is how Okta writes and reads times: UTC, milliseconds.
const logTimeLayout = "2006-01-02T15:04:05.000Z"

// Event is the part of an Okta System Log LogEvent the import reads.
// Fields Okta adds, and fields of unexpected types inside detailEntry and
// debugData, are ignored.
type Event struct {
	UUID      string `json:"uuid"`
	Published string `json:"published"`
	EventType string `json:"eventType"`
	Actor     struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		AlternateID string `json:"alternateId"`
		DisplayName string `json:"displayName"`
	} `json:"actor"`
	Outcome struct {
		Result string `json:"result"`
	} `json:"outcome"`
	Target       []Target `json:"target"`
	DebugContext struct {
		DebugData any `json:"debugData"`
	} `json:"debugContext"`
}

// Target is one target of a LogEvent.
type Target struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
	DetailEntry any    `json:"detailEntry"`
}

// DecodeEvent reads one LogEvent.
func DecodeEvent(raw []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// signIn is what an event says about a person signing in to an app.
type signIn struct {
	person   string
	appID    string // Okta's app id (0oa...)
	appName  string
	protocol string
}

// signIn reads who signed in to which Okta app. ok is false for events
// that are not a successful sign-in by a person to a named app: failures,
// token grants a client makes for itself, events without an app.
func (e *Event) signIn() (s signIn, ok bool) {
	if !strings.EqualFold(e.Outcome.Result, "SUCCESS") || !strings.EqualFold(e.Actor.Type, "User") {
		return signIn{}, false
	}
	sso := e.EventType == "user.authentication.sso"
	if !sso && !strings.HasPrefix(e.EventType, "app.oauth2.") {
		return signIn{}, false
	}
	for _, t := range e.Target {
		// SSO events name the app as an AppInstance; OAuth 2.0 events
		// name the client, whose id is the OIDC app's id.
		if t.Type != "AppInstance" && t.Type != "PublicClientApp" {
			continue
		}
		s.appID, s.appName = t.ID, t.DisplayName
		if s.appName == "" {
			s.appName = t.AlternateID
		}
		if d, ok := t.DetailEntry.(map[string]any); ok {
			if m, ok := d["signOnModeType"].(string); ok {
				s.protocol = protocolOf(m)
			}
		}
		break
	}
	if s.appID == "" && s.appName == "" {
		return signIn{}, false
	}
	if s.protocol == "" {
		if d, ok := e.DebugContext.DebugData.(map[string]any); ok {
			if m, ok := d["signOnMode"].(string); ok {
				s.protocol = protocolOf(m)
			}
		}
	}
	if s.protocol == "" && !sso {
		s.protocol = "oidc"
	}
	if p := strings.ToLower(strings.TrimSpace(e.Actor.AlternateID)); strings.Contains(p, "@") && len(p) <= 320 {
		s.person = p
	}
	return s, true
}

// logCheckpoint is the System Log's place: the published time of the last
// stored event, and the uuids of every event read at that exact time, as
// the next run asks since that time (inclusive) and skips those.
type logCheckpoint struct {
	Published time.Time `json:"published"`
	UUIDs     []string  `json:"uuids,omitempty"`
}

// maxBoundaryUUIDs bounds the uuids a checkpoint keeps; more events in
// one millisecond are re-read, which their dedupe keys make harmless.
const maxBoundaryUUIDs = 1000

func (c *logCheckpoint) advance(published time.Time, uuid string) {
	switch {
	case published.After(c.Published):
		c.Published, c.UUIDs = published, []string{uuid}
	case published.Equal(c.Published) && len(c.UUIDs) < maxBoundaryUUIDs:
		c.UUIDs = append(c.UUIDs, uuid)
	}
}

// importSystemLog reads the System Log from the checkpoint (or the
// backfill) to now, a page at a time, storing each page's evidence
// before moving the checkpoint past it.
func (im *Importer) importSystemLog(ctx context.Context, env *sources.Env, apps map[string]collector.IdPApp) error {
	env.Progress.SetStage("okta system log")
	now := env.Now().UTC()
	cp, err := im.loadCheckpoint(ctx, env, now)
	if err != nil {
		return err
	}
	skip := make(map[string]bool, len(cp.UUIDs))
	for _, u := range cp.UUIDs {
		skip[u] = true
	}
	q := url.Values{
		"since":     {cp.Published.Format(logTimeLayout)},
		"until":     {now.Format(logTimeLayout)},
		"sortOrder": {"ASCENDING"},
		"limit":     {strconv.Itoa(im.opts.LogPageSize)},
		"filter":    {logFilter},
	}
	u := im.endpoint("/api/v1/logs", q)
	var read, stored int
	err = im.eachPage(ctx, env, "okta system log", u, func(page int, raws []json.RawMessage) error {
		moved := false
		var ev []collector.Evidence
		for _, raw := range raws {
			env.Progress.AddEvents(1)
			read++
			e, err := DecodeEvent(raw)
			if err != nil {
				env.Log.Warn("okta system log: event skipped", "page", page, "err", err)
				continue
			}
			published, err := time.Parse(time.RFC3339Nano, e.Published)
			if err != nil || e.UUID == "" {
				env.Log.Warn("okta system log: event without uuid or time skipped", "page", page, "uuid", e.UUID)
				continue
			}
			published = published.UTC()
			if skip[e.UUID] {
				continue // read and stored by the run before
			}
			// A clock-skewed event from the future must not move the
			// window past now: later events would be skipped.
			at := published
			if at.After(now) {
				at = now
			}
			cp.advance(at, e.UUID)
			moved = true
			if x, ok := im.evidence(env, &e, published, apps); ok {
				ev = append(ev, x)
			}
		}
		n, err := env.AddEvidence(ctx, ev)
		if err != nil {
			return err
		}
		stored += n
		if moved {
			return im.saveCheckpoint(ctx, env, cp)
		}
		return nil
	})
	if err != nil {
		return err
	}
	env.Log.Info("okta system log read", "events", read, "new_evidence", stored, "until", cp.Published)
	return nil
}

// evidence turns a sign-in event into sso_login evidence for the catalog
// app behind the Okta app. Sign-ins to apps the catalog does not know are
// counted, not stored.
func (im *Importer) evidence(env *sources.Env, e *Event, published time.Time, apps map[string]collector.IdPApp) (collector.Evidence, bool) {
	s, ok := e.signIn()
	if !ok {
		return collector.Evidence{}, false
	}
	appID := ""
	if a, ok := apps[s.appID]; ok {
		appID = a.AppID
		if s.protocol == "" {
			s.protocol = a.Protocol
		}
	} else {
		// An app deleted since, or no app list this run: its name is
		// all there is.
		appID, _ = sources.MapApp(env.Catalog, s.appName, nil, "")
	}
	if appID == "" {
		return collector.Evidence{}, false
	}
	detail := "okta"
	if s.protocol != "" {
		detail += " " + s.protocol
	}
	return collector.Evidence{
		AppID:     appID,
		Source:    collector.SourceSSOLogin,
		Person:    s.person,
		Day:       published.Format(time.DateOnly),
		FirstSeen: published,
		LastSeen:  published,
		Count:     1,
		Detail:    detail,
		DedupeKey: Name + ":" + e.UUID,
	}, true
}

// loadCheckpoint reads the place of the last run, or starts the backfill.
// The window never starts before Okta's retention: Okta refuses it.
func (im *Importer) loadCheckpoint(ctx context.Context, env *sources.Env, now time.Time) (logCheckpoint, error) {
	oldest := now.Add(-Retention).Add(time.Minute)
	start := logCheckpoint{Published: now.Add(-im.backfill)}
	v, ok, err := env.Checkpoint(ctx, Name, checkpointKey)
	if err != nil {
		return logCheckpoint{}, fmt.Errorf("okta system log: read checkpoint: %w", err)
	}
	if ok {
		var cp logCheckpoint
		if err := json.Unmarshal([]byte(v), &cp); err != nil || cp.Published.IsZero() {
			// Re-reading is harmless (dedupe keys); being stuck is not.
			env.Log.Warn("okta system log: checkpoint unreadable; reading the backfill window again", "err", err)
		} else {
			start = cp
		}
	}
	if start.Published.Before(oldest) {
		start = logCheckpoint{Published: oldest}
	}
	if start.Published.After(now) {
		start = logCheckpoint{Published: now}
	}
	start.Published = start.Published.UTC()
	return start, nil
}

func (im *Importer) saveCheckpoint(ctx context.Context, env *sources.Env, cp logCheckpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := env.SetCheckpoint(ctx, Name, checkpointKey, string(b)); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	return nil
}
