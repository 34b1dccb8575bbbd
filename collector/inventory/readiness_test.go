package inventory

import (
	"testing"

	"github.com/shadowmap/shadowmap/signatures"
)

func identity(sso, ssoTier, scim, scimTier string, protocols ...string) *signatures.Identity {
	return &signatures.Identity{
		SSO:  signatures.SSO{Supported: sso, Tier: ssoTier, Protocols: protocols},
		SCIM: signatures.SCIM{Supported: scim, Tier: scimTier},
		IdPs: map[string]string{"okta": "OIN app with SCIM provisioning", "entra": "SSO only"},
	}
}

func TestNextStepOutside(t *testing.T) {
	tests := []struct {
		name string
		id   *signatures.Identity
		want string
	}{
		{"same plan for both", identity("yes", "Business+", "yes", "Business+", "saml"),
			"Upgrade to Business+ for SAML SSO and SCIM; then add it to Okta."},
		{"SCIM plan unknown", identity("yes", "Business", "yes", "", "saml"),
			"Upgrade to Business for SAML SSO and SCIM; then add it to Okta."},
		{"SCIM on a higher plan", identity("yes", "Business", "yes", "Enterprise", "saml", "oidc"),
			"Upgrade to Business for SAML or OIDC SSO (Enterprise for SCIM); then add it to Okta."},
		{"SSO on every plan, SCIM on one", identity("yes", "all plans", "yes", "Enterprise", "oidc"),
			"Add it to Okta with OIDC SSO; SCIM needs Enterprise."},
		{"remarks in the tier are dropped", identity("yes", "Enterprise (quote)", "no", "", "saml"),
			"Upgrade to Enterprise for SAML SSO, then add it to Okta; it has no SCIM, so offboarding stays manual."},
		{"SCIM paused", identity("yes", "", "paused", "", "saml"),
			"Add it to Okta with SAML SSO; the vendor has paused SCIM, so offboarding stays manual."},
		{"SCIM unknown", identity("yes", "", "unknown", "", "saml"),
			"Add it to Okta with SAML SSO; SCIM support is unknown."},
		{"SCIM through some IdPs", identity("yes", "", "idp-only", "", "saml"),
			"Add it to Okta with SAML SSO; it provisions only through some IdPs' own integrations (see the IdP notes)."},
		{"partial SSO, no protocols listed", identity("partial", "", "yes", ""),
			"Add it to Okta with partial SSO and turn on SCIM provisioning."},
		{"no SSO but SCIM", identity("no", "", "yes", ""),
			"The app has no SSO: people keep separate passwords, but SCIM can create and remove their accounts from Okta."},
		{"SSO unknown", identity("unknown", "", "unknown", ""),
			"SSO support is unknown: check the vendor's SSO and SCIM documentation before adding it to Okta."},
		{"no facts", nil,
			"The catalog has no identity facts for this app yet: check the vendor's SSO and SCIM documentation before adding it to Okta."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextStepOutside(tt.id, "okta"); got != tt.want {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNextStepInside(t *testing.T) {
	partial := identity("yes", "", "partial", "", "saml")
	partial.SCIM.Operations = []string{"create", "deactivate"}
	tests := []struct {
		name   string
		id     *signatures.Identity
		idp    string
		byHand bool
		want   string
	}{
		{"SCIM", identity("yes", "", "yes", "", "saml"), "okta", false,
			"In Okta; turn on SCIM provisioning so accounts are created and removed automatically."},
		{"idp-only, through this IdP", identity("yes", "", "idp-only", ""), "okta", false,
			"In Okta; turn on provisioning through Okta's own integration for the app."},
		{"idp-only, not through this IdP", identity("yes", "", "idp-only", ""), "entra", true,
			"In Microsoft Entra ID, but the app provisions only through some IdPs' own integrations (see the IdP notes): remove leavers' accounts by hand."},
		{"partial SCIM that deactivates", partial, "google_workspace", false,
			"In Google Workspace; turn on its partial SCIM provisioning, and check which account changes it leaves to be done by hand."},
		{"partial SCIM that cannot deactivate", identity("yes", "", "partial", ""), "onelogin", true,
			"In OneLogin, but its SCIM cannot deactivate accounts: remove leavers' accounts by hand."},
		{"paused", identity("yes", "", "paused", ""), "okta", true,
			"In Okta, but the vendor has paused SCIM: remove leavers' accounts by hand."},
		{"unknown", identity("yes", "", "unknown", ""), "", true,
			"In the IdP; SCIM support is unknown: check the vendor's provisioning docs, and remove leavers' accounts by hand until then."},
		{"marked by IT, no facts", nil, "manual", true,
			"Marked as inside the IdP by IT; the catalog has no identity facts for this app yet: check whether it supports SCIM, and remove leavers' accounts by hand until then."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextStepInside(tt.id, tt.idp); got != tt.want {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
			if got := !provisionsAutomatically(tt.id, tt.idp); got != tt.byHand {
				t.Errorf("managed by hand %v, want %v", got, tt.byHand)
			}
		})
	}
}

func TestPlanPhrase(t *testing.T) {
	tests := map[string]string{
		"Business+":                           "Business+",
		"  Enterprise  ":                      "Enterprise",
		"Enterprise (\"Call us\" on sso.tax)": "Enterprise",
		"unknown":                             "",
		"":                                    "",
		"all plans, all service regions":      "",
		"every plan (no passwords)":           "",
		"All editions":                        "",
		"higher tier (sso.tax, 2021)":         "higher tier",
	}
	for in, want := range tests {
		if got := planPhrase(in); got != want {
			t.Errorf("planPhrase(%q) = %q, want %q", in, got, want)
		}
	}
}
