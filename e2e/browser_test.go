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
)

// browser starts a headless Chromium for the test, with the flags that
// keep it off the network (this machine's network is closed, and a test
// talks to loopback only). Without Chromium the test is skipped, unless
// SHADOWMAP_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SHADOWMAP_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("the browser tests need Chromium (Debian package chromium)")
		}
		t.Skip("no chromium on this machine")
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
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
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
