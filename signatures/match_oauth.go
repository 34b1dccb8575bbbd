package signatures

import "strings"

// OAuthMatch is what MatchOAuthClient found.
type OAuthMatch struct {
	App *App
	// By says what matched: "client_id" or "display_name".
	By string
}

type oauthIndex struct {
	clientIDs map[string]*App
	names     map[string]*App
}

// googleClientSuffix ends every Google OAuth client id; grant logs carry
// the id with or without it.
const googleClientSuffix = ".apps.googleusercontent.com"

func normalizeClientID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	return strings.TrimSuffix(id, googleClientSuffix)
}

func buildOAuthIndex(apps []*App) oauthIndex {
	x := oauthIndex{clientIDs: make(map[string]*App), names: make(map[string]*App)}
	addName := func(name string, a *App) {
		if n := normalizeName(name); n != "" {
			if _, taken := x.names[n]; !taken {
				x.names[n] = a
			}
		}
	}
	// OAuth display names first, so they win over an app name that
	// happens to equal another app's display name.
	for _, a := range apps {
		if a.OAuth == nil {
			continue
		}
		for _, id := range a.OAuth.GoogleClientIDs {
			x.clientIDs[normalizeClientID(id)] = a
		}
		for _, id := range a.OAuth.MicrosoftAppIDs {
			x.clientIDs[normalizeClientID(id)] = a
		}
		for _, n := range a.OAuth.DisplayNames {
			addName(n, a)
		}
	}
	for _, a := range apps {
		addName(a.Name, a)
		for _, n := range a.Aliases {
			addName(n, a)
		}
	}
	return x
}

// MatchOAuthClient matches an OAuth client seen in a grant log: a Google
// client id or Microsoft application id first, then the display name the
// client registered (compared without case, spacing or punctuation).
func (c *Catalog) MatchOAuthClient(clientID, displayName string) OAuthMatch {
	if id := normalizeClientID(clientID); id != "" {
		if a := c.oauth.clientIDs[id]; a != nil {
			return OAuthMatch{App: a, By: "client_id"}
		}
	}
	if n := normalizeName(displayName); n != "" {
		if a := c.oauth.names[n]; a != nil {
			return OAuthMatch{App: a, By: "display_name"}
		}
	}
	return OAuthMatch{}
}
