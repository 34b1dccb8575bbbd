package google

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeTokenEvents writes n token events as activities.list pages of
// 1,000, as an admin would save them: most authorize, some revoke; a
// third to apps the catalog knows, the rest to candidate apps.
func writeTokenEvents(b *testing.B, dir string, n int) []string {
	b.Helper()
	known := []string{"Notion", "Miro", "Zoom for Google Workspace", "Slack", "Asana", "Calendly", "Grammarly", "Trello"}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var paths []string
	for page := 0; page*1000 < n; page++ {
		var items []map[string]any
		for i := page * 1000; i < min(n, (page+1)*1000); i++ {
			name, client := fmt.Sprintf("Candidate App %d", i%500), fmt.Sprintf("%012d-candidate%d.apps.googleusercontent.com", i%500, i%500)
			if i%3 == 0 {
				name = known[i%len(known)]
				client = fmt.Sprintf("%012d-known%d.apps.googleusercontent.com", i%len(known), i%len(known))
			}
			event := "authorize"
			if i%20 == 19 {
				event = "revoke"
			}
			items = append(items, map[string]any{
				"kind":  "admin#reports#activity",
				"id":    map[string]any{"time": start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339Nano), "uniqueQualifier": fmt.Sprint(int64(i) * 7919), "applicationName": "token", "customerId": "C03az79cb"},
				"actor": map[string]any{"callerType": "USER", "email": fmt.Sprintf("user%d@acme.example", i%2000), "profileId": fmt.Sprint(100000000 + i%2000)},
				"events": []any{map[string]any{"type": "auth", "name": event, "parameters": []any{
					map[string]any{"name": "client_id", "value": client},
					map[string]any{"name": "app_name", "value": name},
					map[string]any{"name": "client_type", "value": "WEB"},
					map[string]any{"name": "scope", "multiValue": []string{"https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/drive.readonly", "openid"}},
				}}},
			})
		}
		data, err := json.Marshal(map[string]any{"kind": "admin#reports#activities", "items": items})
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("token-%03d.json", page))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// BenchmarkFileImport100k imports 100,000 token events from files into a
// real SQLite store. The goal is at most 10 s per import.
func BenchmarkFileImport100k(b *testing.B) {
	paths := writeTokenEvents(b, b.TempDir(), 100_000)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		testCatalog(b)
		b.StartTimer()
		run, err := runImport(b, st, NewFileImporter(paths))
		if err != nil {
			b.Fatal(err)
		}
		if run.Events != 100_000 {
			b.Fatalf("%d events read", run.Events)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
