package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/internal/loopback"
)

// licenceMessage is what IT reads when the tenant has no Entra ID P1/P2:
// Graph refuses sign-in logs but everything else still works.
const licenceMessage = "sign-in logs need Microsoft Entra ID P1 or P2; the app list and grants are still imported"

// graphError is Graph's error body: {"error":{"code":..., "message":...}}.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// isLicenceError reports whether a Graph 403 body says the tenant lacks
// the premium licence sign-in logs need.
func isLicenceError(body []byte) bool {
	var ge graphError
	_ = json.Unmarshal(body, &ge) // an unreadable body is simply not this error
	if ge.Error.Code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		return true
	}
	msg := strings.ToLower(ge.Error.Message)
	return strings.Contains(msg, "premium license") || strings.Contains(msg, "premium licence")
}

// explainGraph returns the Explain for one Graph endpoint, naming the
// application permission it needs.
func explainGraph(permission string) sources.Explain {
	return func(status int, body []byte) string {
		switch status {
		case http.StatusUnauthorized:
			return "Microsoft Graph refused the access token: the client secret may have expired or the app registration was removed"
		case http.StatusForbidden:
			if isLicenceError(body) {
				return licenceMessage
			}
			return fmt.Sprintf("permission denied: give the app registration the Microsoft Graph application permission %s and grant admin consent", permission)
		}
		return sources.DefaultExplain(status, body)
	}
}

// IsLicenceError reports whether err is Graph refusing sign-in logs
// because the tenant has no Entra ID P1 or P2 licence.
func IsLicenceError(err error) bool {
	var ae *sources.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.Message == licenceMessage
}

// tokenAnswer is the token endpoint's answer (both success and error).
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        json.RawMessage `json:"expires_in"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// explainToken says what the Microsoft identity platform's refusals mean.
// Its error codes (AADSTS...) are in error_description.
func explainToken(status int, body []byte) string {
	var ta tokenAnswer
	_ = json.Unmarshal(body, &ta) // an unreadable body falls to the generic text
	desc := ta.ErrorDescription
	switch {
	case strings.Contains(desc, "AADSTS7000222"):
		return "the client secret has expired: create a new one under App registrations > Certificates & secrets and update client_secret"
	case strings.Contains(desc, "AADSTS700016"):
		return "the client id is not an application in this tenant: check client_id and tenant_id"
	case strings.Contains(desc, "AADSTS90002"), strings.Contains(desc, "AADSTS900023"):
		return "the tenant was not found: check tenant_id"
	case ta.Error == "invalid_client", status == http.StatusUnauthorized:
		return "the client id or secret was refused: the client secret may have expired or be wrong"
	case status == http.StatusBadRequest:
		return "the token request was refused: check tenant_id, client_id and client_secret"
	}
	return sources.DefaultExplain(status, body)
}

// client talks to Graph for one run: it holds the access token and
// renews it before it expires, so a long backfill keeps going.
type client struct {
	im      *Importer
	hc      *http.Client
	now     func() time.Time
	token   string
	expires time.Time
}

// accessToken returns a current token, asking for a new one when the
// last is within five minutes of expiring.
func (c *client) accessToken(ctx context.Context) (string, error) {
	if c.token != "" && c.now().Before(c.expires.Add(-5*time.Minute)) {
		return c.token, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.im.clientID},
		"client_secret": {c.im.secret},
		"scope":         {graphScope(c.im.graphURL)},
	}.Encode()
	_, body, err := sources.Do(ctx, c.hc, c.im.retry, explainToken, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.im.tokenURL, strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return "", fmt.Errorf("entra token for tenant %s: %w", c.im.tenant, err)
	}
	var ta tokenAnswer
	if err := json.Unmarshal(body, &ta); err != nil {
		return "", fmt.Errorf("entra token for tenant %s: decode: %w", c.im.tenant, err)
	}
	if ta.AccessToken == "" {
		return "", fmt.Errorf("entra token for tenant %s: the answer has no access_token", c.im.tenant)
	}
	// expires_in is a number in v2.0 answers and a string in older ones.
	secs := 3599
	var n json.Number
	if err := json.Unmarshal(ta.ExpiresIn, &n); err == nil {
		if v, err := n.Int64(); err == nil && v > 0 {
			secs = int(v)
		}
	} else {
		var s string
		if json.Unmarshal(ta.ExpiresIn, &s) == nil {
			if _, err := fmt.Sscan(s, &secs); err != nil || secs <= 0 {
				secs = 3599
			}
		}
	}
	c.token, c.expires = ta.AccessToken, c.now().Add(time.Duration(secs)*time.Second)
	return c.token, nil
}

// graphScope is the .default scope of the Graph the importer talks to
// (national clouds have their own host).
func graphScope(graphURL string) string {
	if u, err := url.Parse(graphURL); err == nil && u.Host != "" && !loopback.Host(u.Hostname()) {
		return "https://" + u.Host + "/.default"
	}
	return "https://graph.microsoft.com/.default"
}

// page is one page of a Graph collection; the items are decoded one by
// one so a single odd item does not stop an import.
type page struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// eachPage GETs first and follows @odata.nextLink, calling fn with every
// page. what names the collection in errors ("service principals page
// 3: ..."); permission is the Graph permission it needs.
func (c *client) eachPage(ctx context.Context, what, permission, first string, fn func(p page) error) error {
	next := first
	for n := 1; next != ""; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("entra %s page %d: %w", what, n, err)
		}
		tok, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		var p page
		header := http.Header{"Authorization": {"Bearer " + tok}}
		if _, err := sources.GetJSON(ctx, c.hc, c.im.retry, explainGraph(permission), next, header, &p); err != nil {
			return fmt.Errorf("entra %s page %d: %w", what, n, err)
		}
		if err := fn(p); err != nil {
			return fmt.Errorf("entra %s page %d: %w", what, n, err)
		}
		if p.NextLink != "" {
			if err := c.im.sameGraph(p.NextLink); err != nil {
				return fmt.Errorf("entra %s page %d: %w", what, n, err)
			}
		}
		next = p.NextLink
	}
	return nil
}

// sameGraph refuses a next link that leaves the Graph host: the access
// token must never be sent anywhere else.
func (im *Importer) sameGraph(link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("bad @odata.nextLink: %w", err)
	}
	if !strings.EqualFold(u.Scheme, im.graph.Scheme) || !strings.EqualFold(u.Host, im.graph.Host) {
		return fmt.Errorf("@odata.nextLink points at %s://%s, not at Microsoft Graph (%s): refused", u.Scheme, u.Host, im.graph.Host)
	}
	return nil
}
