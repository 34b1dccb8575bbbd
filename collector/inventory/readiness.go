package inventory

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/signatures"
)

// Readiness says what bringing an app under the IdP takes, from the
// catalog's identity facts, and what managing it by hand costs meanwhile.
type Readiness struct {
	// Known is false when the catalog has no identity facts for the app;
	// SSO, SCIM and JIT are then "unknown".
	Known bool `json:"known"`

	SSO          string   `json:"sso"` // yes, no, partial, unknown
	SSOProtocols []string `json:"sso_protocols,omitempty"`
	SSOTier      string   `json:"sso_tier,omitempty"`

	SCIM           string   `json:"scim"` // yes, no, partial, paused, idp-only, unknown
	SCIMTier       string   `json:"scim_tier,omitempty"`
	SCIMOperations []string `json:"scim_operations,omitempty"`
	SCIMNotes      string   `json:"scim_notes,omitempty"`

	JIT string `json:"jit"` // yes, no, partial, unknown
	// IdPNotes says per IdP (okta, entra, google_workspace, onelogin)
	// what its integration with the app does.
	IdPNotes   map[string]string `json:"idp_notes,omitempty"`
	PriceNotes string            `json:"price_notes,omitempty"`
	Notes      string            `json:"notes,omitempty"`
	// Checked is the day the catalog's facts were checked, YYYY-MM-DD.
	Checked string `json:"checked,omitempty"`

	// NextStep says in one sentence what it would take.
	NextStep string `json:"next_step"`
	// ManagedByHand is false only when the app is inside an IdP that can
	// provision it automatically; the digest sums ManualCost over the
	// apps where it is true.
	ManagedByHand bool `json:"managed_by_hand"`
	// ManualCost is the yearly cost of managing the app's accounts by
	// hand, from the cost model scaled to its accounts.
	ManualCost ManualCost `json:"manual_cost"`
}

func readinessFor(id *signatures.Identity, r *AppRow, company string, cost CostModel) Readiness {
	rd := Readiness{SSO: "unknown", SCIM: "unknown", JIT: "unknown"}
	if id != nil {
		rd.Known = true
		rd.SSO = orUnknown(id.SSO.Supported)
		rd.SSOProtocols = slices.Clone(id.SSO.Protocols)
		rd.SSOTier = id.SSO.Tier
		rd.SCIM = orUnknown(id.SCIM.Supported)
		rd.SCIMTier = id.SCIM.Tier
		rd.SCIMOperations = slices.Clone(id.SCIM.Operations)
		rd.SCIMNotes = id.SCIM.Notes
		rd.JIT = orUnknown(id.JIT)
		if len(id.IdPs) > 0 {
			rd.IdPNotes = maps.Clone(id.IdPs)
		}
		rd.PriceNotes = id.PriceNotes
		rd.Notes = id.Notes
		rd.Checked = id.Checked
	}
	rd.ManagedByHand = !(r.InsideIdP && provisionsAutomatically(id, r.IdP))
	rd.ManualCost = cost.ForAccounts(max(r.People, r.Devices))
	if r.InsideIdP {
		rd.NextStep = nextStepInside(id, r.IdP)
	} else {
		rd.NextStep = nextStepOutside(id, company)
	}
	return rd
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// provisionsAutomatically reports whether an app inside idp (a key such
// as okta, or "" when unknown) gets its accounts created and removed by
// the IdP: SCIM is supported; or it is partial but can still deactivate
// or delete accounts; or it is idp-only and the catalog's note for this
// IdP speaks of SCIM or provisioning.
func provisionsAutomatically(id *signatures.Identity, idp string) bool {
	if id == nil {
		return false
	}
	switch id.SCIM.Supported {
	case "yes":
		return true
	case "partial":
		return slices.Contains(id.SCIM.Operations, "deactivate") || slices.Contains(id.SCIM.Operations, "delete")
	case "idp-only":
		return idpProvisions(id, idp)
	}
	return false
}

func idpProvisions(id *signatures.Identity, idp string) bool {
	note := strings.ToLower(id.IdPs[idp])
	return strings.Contains(note, "scim") || strings.Contains(note, "provisioning")
}

// idpName is how sentences name an IdP key.
func idpName(idp string) string {
	switch idp {
	case "okta":
		return "Okta"
	case "entra":
		return "Microsoft Entra ID"
	case "google_workspace":
		return "Google Workspace"
	case "onelogin":
		return "OneLogin"
	case "", "manual":
		return "the IdP"
	}
	return idp
}

// insidePhrase opens a sentence about an app inside idp.
func insidePhrase(idp string) string {
	switch idp {
	case "":
		return "In the IdP"
	case "manual":
		return "Marked as inside the IdP by IT"
	}
	return "In " + idpName(idp)
}

// targetName is the IdP an app outside every IdP would be added to.
func targetName(company string) string {
	if company == "" || company == "manual" {
		return "your IdP"
	}
	return idpName(company)
}

// ssoPhrase names the SSO an app offers: "SAML SSO", "SAML or OIDC SSO".
func ssoPhrase(id *signatures.Identity) string {
	var names []string
	for _, p := range id.SSO.Protocols {
		switch p {
		case "saml":
			names = append(names, "SAML")
		case "oidc":
			names = append(names, "OIDC")
		case "oauth":
			names = append(names, "OAuth")
		case "ws-fed":
			names = append(names, "WS-Fed")
		default:
			names = append(names, p)
		}
	}
	s := "SSO"
	if len(names) > 0 {
		s = strings.Join(names, " or ") + " SSO"
	}
	if id.SSO.Supported == "partial" {
		s = "partial " + s
	}
	return s
}

// planPhrase turns a catalog tier into a plan name a sentence can say
// "upgrade to" about, or "" when no upgrade is needed or the tier is not
// known. Catalog tiers are free text: a parenthetical remark is dropped
// (the full tier is in the row), and "all plans" or "every plan" means
// any plan has it.
func planPhrase(tier string) string {
	if i := strings.Index(tier, " ("); i >= 0 {
		tier = tier[:i]
	}
	tier = strings.TrimSpace(tier)
	lower := strings.ToLower(tier)
	switch {
	case lower == "" || lower == "unknown" || lower == "all" || lower == "free" || lower == "any":
		return ""
	case strings.HasPrefix(lower, "all ") || strings.HasPrefix(lower, "every ") || strings.HasPrefix(lower, "any "):
		return ""
	}
	return tier
}

// nextStepInside is the sentence for an app already inside an IdP.
func nextStepInside(id *signatures.Identity, idp string) string {
	in := insidePhrase(idp)
	if id == nil {
		return in + "; the catalog has no identity facts for this app yet: check whether it supports SCIM, and remove leavers' accounts by hand until then."
	}
	switch id.SCIM.Supported {
	case "yes":
		if plan := planPhrase(id.SCIM.Tier); plan != "" {
			return fmt.Sprintf("%s; turn on SCIM provisioning (it needs %s) so accounts are created and removed automatically.", in, plan)
		}
		return in + "; turn on SCIM provisioning so accounts are created and removed automatically."
	case "partial":
		if provisionsAutomatically(id, idp) {
			return in + "; turn on its partial SCIM provisioning, and check which account changes it leaves to be done by hand."
		}
		return in + ", but its SCIM cannot deactivate accounts: remove leavers' accounts by hand."
	case "idp-only":
		if idpProvisions(id, idp) {
			return fmt.Sprintf("%s; turn on provisioning through %s's own integration for the app.", in, idpName(idp))
		}
		return in + ", but the app provisions only through some IdPs' own integrations (see the IdP notes): remove leavers' accounts by hand."
	case "paused":
		return in + ", but the vendor has paused SCIM: remove leavers' accounts by hand."
	case "no":
		return in + ", but the app has no SCIM: remove leavers' accounts by hand."
	}
	return in + "; SCIM support is unknown: check the vendor's provisioning docs, and remove leavers' accounts by hand until then."
}

// nextStepOutside is the sentence for an app outside every IdP, e.g.
// "Upgrade to Business+ for SAML SSO and SCIM; then add it to Okta."
func nextStepOutside(id *signatures.Identity, company string) string {
	target := targetName(company)
	if id == nil {
		return fmt.Sprintf("The catalog has no identity facts for this app yet: check the vendor's SSO and SCIM documentation before adding it to %s.", target)
	}
	switch id.SSO.Supported {
	case "yes", "partial":
	case "no":
		if id.SCIM.Supported == "yes" {
			return fmt.Sprintf("The app has no SSO: people keep separate passwords, but SCIM can create and remove their accounts from %s.", target)
		}
		return "The app has no SSO and cannot be brought under an IdP: manage its accounts by hand, or replace it."
	default:
		return fmt.Sprintf("SSO support is unknown: check the vendor's SSO and SCIM documentation before adding it to %s.", target)
	}

	sso := ssoPhrase(id)
	ssoPlan := planPhrase(id.SSO.Tier)
	scimPlan := planPhrase(id.SCIM.Tier)
	scimYes := id.SCIM.Supported == "yes"

	var tail string
	switch id.SCIM.Supported {
	case "yes":
	case "partial":
		tail = "its SCIM is partial, so check what offboarding still needs by hand"
	case "idp-only":
		tail = "it provisions only through some IdPs' own integrations (see the IdP notes)"
	case "paused":
		tail = "the vendor has paused SCIM, so offboarding stays manual"
	case "no":
		tail = "it has no SCIM, so offboarding stays manual"
	default:
		tail = "SCIM support is unknown"
	}

	var s string
	switch {
	case ssoPlan != "" && scimYes && (scimPlan == "" || scimPlan == ssoPlan):
		s = fmt.Sprintf("Upgrade to %s for %s and SCIM; then add it to %s", ssoPlan, sso, target)
	case ssoPlan != "" && scimYes:
		s = fmt.Sprintf("Upgrade to %s for %s (%s for SCIM); then add it to %s", ssoPlan, sso, scimPlan, target)
	case ssoPlan != "":
		s = fmt.Sprintf("Upgrade to %s for %s, then add it to %s", ssoPlan, sso, target)
	case scimYes && scimPlan != "":
		s = fmt.Sprintf("Add it to %s with %s; SCIM needs %s", target, sso, scimPlan)
	case scimYes:
		s = fmt.Sprintf("Add it to %s with %s and turn on SCIM provisioning", target, sso)
	default:
		s = fmt.Sprintf("Add it to %s with %s", target, sso)
	}
	if tail != "" {
		s += "; " + tail
	}
	return s + "."
}
