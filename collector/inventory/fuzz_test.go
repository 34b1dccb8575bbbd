package inventory

import (
	"slices"
	"strings"
	"testing"
)

// FuzzRiskyScopes feeds oauth_grant details, which come from outside
// (Google and Microsoft admin logs), to the scope rater: it must not panic,
// and what it returns must be sorted, distinct, high-risk entries of the
// scope table.
func FuzzRiskyScopes(f *testing.F) {
	for _, seed := range []string{
		"openid email https://www.googleapis.com/auth/drive",
		"User.Read,Mail.Read gmail.readonly",
		"mail.read MAIL.READ\tMail.Read\r\n",
		"",
		" , ,, ",
		"https://www.googleapis.com/auth/",
		"\xff\xfe drive",
	} {
		f.Add(seed)
	}
	cat := loadCatalog(f)
	f.Fuzz(func(t *testing.T, detail string) {
		got := newScopeRater(cat).riskyScopes([]string{detail, detail})
		if !slices.IsSortedFunc(got, func(a, b RiskyScope) int { return strings.Compare(a.Scope, b.Scope) }) {
			t.Errorf("not sorted: %v", got)
		}
		for i, r := range got {
			if i > 0 && got[i-1].Scope == r.Scope {
				t.Errorf("%q listed twice", r.Scope)
			}
			g, m := cat.ScopeRisk("google", r.Scope), cat.ScopeRisk("microsoft", r.Scope)
			if (g == nil || g.Level != "high") && (m == nil || m.Level != "high") {
				t.Errorf("%+v is not a high-risk table entry (detail %q)", r, detail)
			}
		}
	})
}
