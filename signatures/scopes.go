package signatures

import "strings"

// googleScopePrefix starts most Google OAuth scopes; admin consoles and
// token logs sometimes show only the part after it.
const googleScopePrefix = "https://www.googleapis.com/auth/"

func scopeKey(provider, scope string) string {
	scope = strings.TrimSpace(scope)
	switch provider {
	case "google":
		if !strings.Contains(scope, "://") {
			scope = googleScopePrefix + scope
		}
		return "google|" + scope
	default:
		// Graph permission names are case-insensitive.
		return provider + "|" + strings.ToLower(scope)
	}
}

func buildScopeIndex(scopes []ScopeRisk) map[string]*ScopeRisk {
	x := make(map[string]*ScopeRisk, len(scopes))
	for i := range scopes {
		s := &scopes[i]
		k := scopeKey(s.Provider, s.Scope)
		// A permission listed per class (delegated, application) keeps
		// the riskiest label for a lookup that does not say which.
		if prev := x[k]; prev == nil || levelRank(s.Level) > levelRank(prev.Level) {
			x[k] = s
		}
	}
	return x
}

func levelRank(level string) int {
	switch level {
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	}
	return 0
}

// ScopeRisk returns the risk entry for an OAuth scope ("google") or a
// Microsoft Graph permission ("microsoft"), or nil when the table does not
// list it. Google scopes may be given with or without the
// https://www.googleapis.com/auth/ prefix.
func (c *Catalog) ScopeRisk(provider, scope string) *ScopeRisk {
	return c.scopes[scopeKey(provider, scope)]
}
