package entra

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/sources"
)

// BenchmarkFileImportCSV imports a portal CSV export of 100,000 sign-ins
// (a month of a 3,000-person company) into a real SQLite store; each
// iteration uses a new store, so every row is new.
func BenchmarkFileImportCSV(b *testing.B) {
	const rows = 100_000
	apps := []string{"Slack", "Zoom", "Microsoft Teams", "Office 365 Exchange Online", "Contoso Expenses"}
	var buf bytes.Buffer
	buf.WriteString("Date (UTC),Request ID,User,Username,User type,Application,Application ID ,Status,Sign-in error code,Client app,Authentication Protocol\n")
	start := time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		fmt.Fprintf(&buf, "%s,%08x-0000-4000-8000-%012x,User %d,user%d@contoso.com,Member,%s,,Success,0,Browser,saml20\n",
			start.Add(time.Duration(i)*26*time.Second).Format(time.RFC3339), i, i, i, i%3000, apps[i%len(apps)])
	}
	path := writeTemp(b, "signins.csv", buf.Bytes())
	cat := catalog(b)
	b.ReportAllocs()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		runner := &sources.Runner{Stores: st, Runs: st, Catalog: cat, Log: slog.New(slog.DiscardHandler)}
		b.StartTimer()
		run, err := runner.Run(context.Background(), NewFileImporter([]string{path}), nil)
		if err != nil {
			b.Fatal(err)
		}
		if run.Imported != rows*4/5 {
			b.Fatalf("imported %d", run.Imported)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
