package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/signatures"
)

// microsoftTenant owns Microsoft's own first-party applications (Teams,
// Office, Azure Portal...): appOwnerOrganizationId of their service
// principals in every tenant.
const microsoftTenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

// enterpriseAppTag marks the service principals the Entra portal lists
// as enterprise applications.
const enterpriseAppTag = "WindowsAzureActiveDirectoryIntegratedApp"

// spSelect are the service principal fields the importer reads.
const spSelect = "id,appId,displayName,appDisplayName,servicePrincipalType,preferredSingleSignOnMode,replyUrls,homepage,loginUrl,accountEnabled,tags,appOwnerOrganizationId"

// servicePrincipal is the part of a Graph servicePrincipal the importer
// reads.
type servicePrincipal struct {
	ID                        string   `json:"id"`
	AppID                     string   `json:"appId"`
	DisplayName               string   `json:"displayName"`
	AppDisplayName            string   `json:"appDisplayName"`
	ServicePrincipalType      string   `json:"servicePrincipalType"`
	PreferredSingleSignOnMode string   `json:"preferredSingleSignOnMode"`
	ReplyURLs                 []string `json:"replyUrls"`
	Homepage                  string   `json:"homepage"`
	LoginURL                  string   `json:"loginUrl"`
	AccountEnabled            *bool    `json:"accountEnabled"`
	Tags                      []string `json:"tags"`
	AppOwnerOrganizationID    string   `json:"appOwnerOrganizationId"`
}

func (sp servicePrincipal) name() string {
	if n := strings.TrimSpace(sp.DisplayName); n != "" {
		return n
	}
	return strings.TrimSpace(sp.AppDisplayName)
}

func (sp servicePrincipal) microsoftOwned() bool {
	return strings.EqualFold(sp.AppOwnerOrganizationID, microsoftTenant)
}

func (sp servicePrincipal) urls() []string {
	var out []string
	for _, u := range append(slices.Clone(sp.ReplyURLs), sp.Homepage, sp.LoginURL) {
		if u = strings.TrimSpace(u); u != "" && len(u) <= 2048 && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// protocol maps preferredSingleSignOnMode to IdPApp.Protocol.
func protocol(mode string) string {
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "saml":
		return "saml"
	case "oidc":
		return "oidc"
	case "password":
		return "swa"
	case "linked":
		return "bookmark"
	}
	return "" // notSupported, integrated, none
}

// spIndex is the tenant's service principals as read this run, for the
// grants (whose clientId is a service principal's object id) and for
// mapping sign-ins by the mapping of the app's URLs.
type spIndex struct {
	byObjectID map[string]servicePrincipal
	// appOf is the catalog app of each appId whose service principal
	// mapped to one.
	appOf map[string]string
}

// catalogApp maps an app seen in a sign-in or grant: through its
// service principal's mapping when there is one (its URLs say more than
// its name), else by client id and name.
func (x *spIndex) catalogApp(cat *signatures.Catalog, name, appID string) string {
	if x != nil {
		if a := x.appOf[strings.ToLower(strings.TrimSpace(appID))]; a != "" {
			return a
		}
	}
	app, _ := sources.MapApp(cat, name, nil, appID)
	return app
}

// idpApp decides whether a service principal is in the IdP app list and
// maps it. Kept: enterprise apps (the portal's tag, or SAML/password SSO
// set up by IT) that are not Microsoft's own, and Microsoft's own apps
// that the catalog knows (Teams is inside Entra by nature).
func idpApp(cat *signatures.Catalog, sp servicePrincipal) (collector.IdPApp, bool) {
	if sp.AppID == "" || (sp.ServicePrincipalType != "" && !strings.EqualFold(sp.ServicePrincipalType, "Application")) {
		return collector.IdPApp{}, false
	}
	urls := sp.urls()
	app, how := sources.MapApp(cat, sp.name(), urls, sp.AppID)
	mode := protocol(sp.PreferredSingleSignOnMode)
	enterprise := slices.Contains(sp.Tags, enterpriseAppTag) || mode == "saml" || mode == "swa"
	if sp.microsoftOwned() {
		if app == "" {
			return collector.IdPApp{}, false
		}
	} else if !enterprise {
		return collector.IdPApp{}, false
	}
	return collector.IdPApp{
		IdP:        Name,
		ExternalID: strings.ToLower(sp.AppID),
		Name:       sp.name(),
		Protocol:   mode,
		// Provisioning is read afterwards from the synchronization API,
		// when the app registration may.
		Active:   sp.AccountEnabled == nil || *sp.AccountEnabled,
		URLs:     urls,
		AppID:    app,
		MappedBy: how,
	}, true
}

// importApps lists every service principal, replaces the Entra IdP app
// list with the enterprise apps, and returns the index grants and
// sign-ins use. The list is replaced only after it was read whole.
func (im *Importer) importApps(ctx context.Context, env *sources.Env, c *client) (*spIndex, error) {
	x := &spIndex{byObjectID: map[string]servicePrincipal{}, appOf: map[string]string{}}
	var apps []collector.IdPApp
	var objectIDs []string // of apps, for the provisioning probe
	q := url.Values{"$select": {spSelect}, "$top": {"999"}}
	first := im.graphURL + "/v1.0/servicePrincipals?" + q.Encode()
	err := c.eachPage(ctx, "service principals", "Application.Read.All", first, func(p page) error {
		for _, raw := range p.Value {
			env.Progress.AddEvents(1)
			var sp servicePrincipal
			if err := json.Unmarshal(raw, &sp); err != nil {
				env.Log.Warn("entra service principal skipped", "err", err)
				continue
			}
			if sp.ID == "" {
				continue
			}
			x.byObjectID[strings.ToLower(sp.ID)] = sp
			a, ok := idpApp(env.Catalog, sp)
			if !ok {
				continue
			}
			if a.AppID != "" {
				x.appOf[a.ExternalID] = a.AppID
			}
			a.SeenAt = env.Now()
			apps = append(apps, a)
			if sp.microsoftOwned() {
				objectIDs = append(objectIDs, "") // Entra does not provision into Microsoft's own apps
			} else {
				objectIDs = append(objectIDs, sp.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := im.readProvisioning(ctx, env, c, apps, objectIDs); err != nil {
		return nil, err
	}
	if err := env.Stores.ReplaceIdPApps(ctx, Name, apps, env.Now()); err != nil {
		return x, fmt.Errorf("entra service principals: store app list: %w", err)
	}
	return x, nil
}

// synchronizationJob is the part of a Graph synchronizationJob the
// importer reads.
type synchronizationJob struct {
	Schedule struct {
		State string `json:"state"` // Active, Disabled, Paused
	} `json:"schedule"`
}

// readProvisioning sets Provisioning on the apps Entra provisions
// accounts into (a synchronization job whose schedule is Active). It needs
// the Graph permission Synchronization.Read.All, which the importer does
// not require: without it (403 on the first app) provisioning is left
// unknown (false) and the run goes on. Microsoft's own apps are not
// probed. One call per app: the API has no tenant-wide list.
func (im *Importer) readProvisioning(ctx context.Context, env *sources.Env, c *client, apps []collector.IdPApp, objectIDs []string) error {
	for i := range apps {
		sp := objectIDs[i]
		if sp == "" || (apps[i].Protocol == "" && apps[i].AppID == "") {
			continue // Microsoft's own, or neither SSO nor a catalog app
		}
		tok, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		var jobs struct {
			Value []synchronizationJob `json:"value"`
		}
		link := im.graphURL + "/v1.0/servicePrincipals/" + url.PathEscape(sp) + "/synchronization/jobs"
		header := http.Header{"Authorization": {"Bearer " + tok}}
		_, err = sources.GetJSON(ctx, c.hc, im.retry, explainGraph("Synchronization.Read.All"), link, header, &jobs)
		var ae *sources.APIError
		switch {
		case err == nil:
			apps[i].Provisioning = slices.ContainsFunc(jobs.Value, func(j synchronizationJob) bool { return strings.EqualFold(j.Schedule.State, "Active") })
		case ctx.Err() != nil:
			return fmt.Errorf("entra provisioning of %s: %w", apps[i].Name, ctx.Err())
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			env.Log.Info("entra provisioning not read: give the app registration Synchronization.Read.All to see which apps Entra provisions")
			return nil
		default:
			env.Log.Warn("entra provisioning unknown", "app", apps[i].Name, "err", err)
		}
	}
	return nil
}
