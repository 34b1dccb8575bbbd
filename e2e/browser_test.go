package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shadowmap/shadowmap/internal/demo"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

// browser starts a headless Chromium for the test, with the flags that
// keep it off the network (this machine's network is closed, and a test
// talks to loopback only). Without Chromium the test is skipped, unless
// SHADOWMAP_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "Chromium", "not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshot saves the page as a PNG under the test's artefacts
// directory (SHADOWMAP_SCREENSHOTS, or a temp dir), for people to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SHADOWMAP_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 is PNG; below it, JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPublicPages opens the employee page and a protected page in
// a real browser: the first shows what the agent collects, the second
// sends the browser to sign in.
func TestBrowserPublicPages(t *testing.T) {
	url := startCollector(t)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/about-the-agent")); err != nil {
		t.Fatal(err)
	}
	about, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "about-the-agent")
	if !strings.Contains(about, "What it never sends") {
		t.Errorf("about page text: %q", about)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/apps")); err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(location, "/signin") {
		t.Errorf("an anonymous visit to /apps ended at %s, want the sign-in page", location)
	}
}

// TestBrowserWalkthrough signs in to the demo company in a real browser
// and does what IT does: reads the overview, filters the inventory to
// apps with invoices, opens one, records a decision with a rationale,
// exports the inventory as CSV, and looks at every other page. Each page
// is screenshotted and checked for its data.
func TestBrowserWalkthrough(t *testing.T) {
	ctx := browser(t)
	d, err := demo.Start(context.Background(), demo.Options{
		DataDir: filepath.Join(t.TempDir(), "demo"), Listen: "127.0.0.1:0", People: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	expect := func(page, sel string, wants ...string) {
		t.Helper()
		got := text(sel)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q not on the page", page, w)
			}
		}
		screenshot(t, ctx, page)
	}

	// Signing in: the overview sends the browser to the sign-in form and
	// back.
	step("sign in",
		chromedp.Navigate(d.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), d.AdminEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), d.AdminPassword),
		chromedp.Submit(chromedp.CSS(`form[action="/signin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)),
	)
	expect("overview", "main", "Spend")

	// Filter the inventory to apps with invoices.
	step("inventory",
		chromedp.Navigate(d.URL+"/apps"),
		chromedp.WaitVisible(chromedp.CSS(`form.filters`)),
		chromedp.SetValue(chromedp.CSS(`form.filters select[name="source"]`), "invoice"),
		chromedp.Submit(chromedp.CSS(`form.filters`)),
	)
	waitLocation(t, ctx, "source=invoice")
	step("inventory loaded", chromedp.WaitVisible(chromedp.CSS(`table`)))
	expect("inventory-invoices", "table", "People")

	// Open the first app of the filtered list.
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`table tbody a[href^="/apps/"]`), "href"))
	if err != nil || !href.Exists {
		t.Fatalf("no app link in the inventory: %v", err)
	}
	step("open app", chromedp.Navigate(d.URL+href.Value), chromedp.WaitVisible(chromedp.CSS(`textarea[name="why"]`)))
	expect("app", "main", "Evidence", "Invoices")

	// Record a decision with a rationale: it shows in the history.
	const why = "Finance signed the contract in November"
	step("decide",
		chromedp.SetValue(chromedp.CSS(`form[action$="/status"] select[name="status"]`), "approved"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="why"]`), why),
		chromedp.Submit(chromedp.CSS(`form[action$="/status"]`)),
	)
	waitLocation(t, ctx, "saved")
	step("decided", chromedp.WaitVisible(chromedp.CSS(`textarea[name="why"]`)))
	expect("app-decided", "main", why, "approved")

	// Export the inventory: the CSV the browser downloads.
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/apps.csv").then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(csv, "\n"); !strings.HasPrefix(csv, "id,") || lines < 10 {
		t.Errorf("CSV export: %d lines, starting %.80q", lines, csv)
	}

	// Every other page shows its data.
	for _, p := range []struct{ path, name, sel, want string }{
		{"/people", "people", "main", "@acme.example"},
		{"/devices", "agents", "main", "running"},
		{"/sources", "sources", "main", "google"},
		{"/settings", "settings", "main", "enroll"},
		{"/about-the-agent", "about-the-agent", "main", "What it never sends"},
	} {
		step(p.name, chromedp.Navigate(d.URL+p.path), chromedp.WaitVisible(chromedp.CSS("main")))
		expect(p.name, p.sel, p.want)
		// The first person's and agent's own pages, from the lists.
		detail := map[string]string{"people": `main a[href^="/people/"]`, "agents": `main a[href^="/devices/"]`}[p.name]
		if detail == "" {
			continue
		}
		link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(detail), "href"))
		if err != nil || !link.Exists {
			t.Fatalf("%s: no link to a detail page: %v", p.name, err)
		}
		step(p.name+" detail", chromedp.Navigate(d.URL+link.Value), chromedp.WaitVisible(chromedp.CSS("main")))
		expect(p.name+"-detail", "main", map[string]string{"people": "Apps", "agents": "Capture"}[p.name])
	}
}

// waitLocation waits until the page's address contains want: a form's
// submission navigates asynchronously.
func waitLocation(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	var location string
	for range 100 {
		var err error
		if location, err = chromedp.Run(ctx, chromedp.Location()); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(location, want) {
			return
		}
		if err := chromedp.Do(ctx, chromedp.Sleep(100*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("the browser is at %s, never at a page with %q", location, want)
}
