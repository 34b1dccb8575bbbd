package google

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/sources"
)

// The parsers of outside bytes never panic, whatever they are given.
// Seeds are under testdata/fuzz/<Target>/.

func FuzzDecodeActivities(f *testing.F) {
	f.Add([]byte(`{"kind":"admin#reports#activities","items":[{"id":{"time":"2026-11-12T09:15:02.118Z","uniqueQualifier":"-1","applicationName":"token"},"actor":{"email":"a@b.example"},"events":[{"name":"authorize","parameters":[{"name":"client_id","value":"1.apps.googleusercontent.com"},{"name":"scope","multiValue":["openid"]}]}]}]}`))
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		events, _, err := decodeActivities(data)
		if err != nil {
			return
		}
		b := newBatch()
		for _, e := range events {
			if e.Key == "" || !strings.Contains(e.Person, "@") || e.Time.IsZero() {
				t.Fatalf("event without identity: %+v", e)
			}
			b.add(cat, e, "google:")
		}
		for _, ev := range b.evidence {
			if ev.AppID == "" || ev.DedupeKey == "" || ev.Day != ev.FirstSeen.Format(time.DateOnly) {
				t.Fatalf("bad evidence %+v", ev)
			}
		}
	})
}

func FuzzDecodeTokens(f *testing.F) {
	f.Add([]byte(`{"kind":"admin#directory#tokenList","items":[{"clientId":"c","displayText":"Notion","scopes":["openid"],"userKey":"a@b.example"}]}`))
	env := &sources.Env{Catalog: testCatalog(f)}
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := decodeTokens(data)
		if err != nil {
			return
		}
		for _, tk := range tokens {
			user := ""
			if tk != nil {
				user = strings.ToLower(tk.UserKey)
			}
			if g, ok := tokenGrant(env, tk, user, testNow); ok && (g.ClientID == "" || g.Person == "") {
				t.Fatalf("bad grant %+v", g)
			}
		}
	})
}

func FuzzExportCSV(f *testing.F) {
	f.Add([]byte("Event,Date,Actor,App name,Client ID,Scope\nAuthorize,2026-11-12T10:15:02+01:00,a@b.example,Notion,c,openid\n"))
	f.Add([]byte("App name,ID,Users\nNotion,c,\"a@b.example, c@d.example\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := sources.DecodeText(data)
		if err != nil {
			return
		}
		kind, err := detect(text)
		if err != nil || (kind != kindTokenAuditCSV && kind != kindAccessedAppsCSV) {
			return
		}
		c, err := sources.NewCSV(strings.NewReader(text))
		if err != nil {
			return
		}
		for {
			row, err := c.Next()
			if errors.Is(err, io.EOF) || err != nil {
				return
			}
			if e, ok, err := auditRow(row, nil); err == nil && ok && (e.Key == "" || !strings.Contains(e.Person, "@")) {
				t.Fatalf("bad row event %+v", e)
			}
			for _, p := range usersCell(row.Get(colUsers...)) {
				if !strings.Contains(p, "@") {
					t.Fatalf("user %q", p)
				}
			}
			scopesInText(row.Get("Description"))
		}
	})
}
