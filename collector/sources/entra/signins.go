package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/signatures"
)

// checkpointSignIns holds the createdDateTime (RFC 3339) of the latest
// sign-in stored.
const checkpointSignIns = "signins"

// signIn is the part of a Graph signIn resource the importer reads.
// Unknown fields are ignored; Graph's duplicate keys are accepted (the
// last one wins), as encoding/json does.
type signIn struct {
	ID                     string `json:"id"`
	CreatedDateTime        string `json:"createdDateTime"`
	UserPrincipalName      string `json:"userPrincipalName"`
	UserType               string `json:"userType"`
	AppID                  string `json:"appId"`
	AppDisplayName         string `json:"appDisplayName"`
	ClientAppUsed          string `json:"clientAppUsed"`
	AuthenticationProtocol string `json:"authenticationProtocol"`
	Status                 struct {
		ErrorCode int64 `json:"errorCode"`
	} `json:"status"`
}

// decodeSignIn reads one sign-in of a Graph page.
func decodeSignIn(raw []byte) (signIn, error) {
	var s signIn
	if err := json.Unmarshal(raw, &s); err != nil {
		return signIn{}, fmt.Errorf("sign-in: %w", err)
	}
	return s, nil
}

// personOf returns the lowercase email of a sign-in's user, or false for
// sign-ins that are not an employee's: guests (#EXT# names, userType
// Guest), service principals and anything that is not an address.
func personOf(upn, userType string) (string, bool) {
	p := strings.ToLower(strings.TrimSpace(upn))
	if p == "" || len(p) > 320 || strings.EqualFold(userType, "guest") || strings.Contains(p, "#ext#") {
		return "", false
	}
	at := strings.IndexByte(p, '@')
	if at <= 0 || at != strings.LastIndexByte(p, '@') || !strings.Contains(p[at:], ".") {
		return "", false
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || r == ',' || r == ';' || r == '<' || r == '>' {
			return "", false
		}
	}
	return p, true
}

// parseTime reads Graph's createdDateTime (RFC 3339, in UTC with Z, with
// or without fractions).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("createdDateTime %q: not an RFC 3339 time", clip(s, 40))
	}
	return t.UTC(), nil
}

// clip shortens outside text quoted in messages.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// signInEvidence turns a successful sign-in of an employee into a catalog
// app into sso_login evidence. ok is false for failed sign-ins, guests
// and apps the catalog does not know.
func signInEvidence(cat *signatures.Catalog, sps *spIndex, s signIn) (ev collector.Evidence, ok bool, err error) {
	if s.Status.ErrorCode != 0 {
		return collector.Evidence{}, false, nil
	}
	id := strings.TrimSpace(s.ID)
	if id == "" || len(id) > 200 {
		return collector.Evidence{}, false, fmt.Errorf("sign-in without a usable id")
	}
	t, err := parseTime(s.CreatedDateTime)
	if err != nil {
		return collector.Evidence{}, false, fmt.Errorf("sign-in %s: %w", clip(id, 60), err)
	}
	person, isPerson := personOf(s.UserPrincipalName, s.UserType)
	if !isPerson {
		return collector.Evidence{}, false, nil
	}
	app := sps.catalogApp(cat, s.AppDisplayName, s.AppID)
	if app == "" {
		return collector.Evidence{}, false, nil
	}
	detail := Name
	for _, d := range []string{s.AuthenticationProtocol, s.ClientAppUsed} {
		if d = strings.TrimSpace(d); d != "" && len(d) <= 60 {
			detail += " " + d
		}
	}
	return collector.Evidence{
		AppID:     app,
		Source:    collector.SourceSSOLogin,
		Person:    person,
		Day:       t.Format(time.DateOnly),
		FirstSeen: t,
		LastSeen:  t,
		Count:     1,
		Detail:    detail,
		DedupeKey: Name + ":" + id,
	}, true, nil
}

// importSignIns reads sign-ins from the checkpoint (or the backfill) on,
// oldest first, and moves the checkpoint after each page is stored.
func (im *Importer) importSignIns(ctx context.Context, env *sources.Env, c *client, sps *spIndex) error {
	now := env.Now().UTC()
	from := now.Add(-im.backfill)
	last, ok, err := env.Checkpoint(ctx, Name, checkpointSignIns)
	if err != nil {
		return fmt.Errorf("entra sign-ins: read checkpoint: %w", err)
	}
	var stored time.Time
	if ok {
		if t, err := parseTime(last); err == nil {
			stored = t
			from = t.Add(-signInOverlap)
		} else {
			env.Log.Warn("entra sign-in checkpoint unreadable; reading the backfill window again", "err", err)
		}
	}
	q := url.Values{}
	q.Set("$filter", "createdDateTime ge "+from.Format(time.RFC3339))
	q.Set("$orderby", "createdDateTime")
	q.Set("$top", fmt.Sprint(im.pageSize))
	first := im.graphURL + "/v1.0/auditLogs/signIns?" + q.Encode()

	var skipped int
	err = c.eachPage(ctx, "sign-ins", "AuditLog.Read.All", first, func(p page) error {
		var ev []collector.Evidence
		latest := stored
		for _, raw := range p.Value {
			env.Progress.AddEvents(1)
			s, err := decodeSignIn(raw)
			if err == nil {
				// A time in the future (a skewed or hostile answer) never
				// moves the checkpoint: it would skip the events to come.
				if t, terr := parseTime(s.CreatedDateTime); terr == nil && t.After(latest) && !t.After(now) {
					latest = t
				}
			}
			var e collector.Evidence
			var use bool
			if err == nil {
				e, use, err = signInEvidence(env.Catalog, sps, s)
			}
			if err != nil {
				// One odd event is logged and skipped; it must not
				// hold the whole log back forever.
				skipped++
				env.Log.Warn("entra sign-in skipped", "err", err)
				continue
			}
			if use {
				ev = append(ev, e)
			}
		}
		if _, err := env.AddEvidence(ctx, ev); err != nil {
			return err
		}
		if latest.After(stored) {
			if err := env.SetCheckpoint(ctx, Name, checkpointSignIns, latest.Format(time.RFC3339Nano)); err != nil {
				return fmt.Errorf("store checkpoint: %w", err)
			}
			stored = latest
		}
		return nil
	})
	if skipped > 0 {
		env.Log.Warn("entra sign-ins skipped as unreadable", "count", skipped)
	}
	return err
}
