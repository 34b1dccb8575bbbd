package mdm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

func TestIntuneDetectionScriptText(t *testing.T) {
	script := IntuneDetectionScript()
	if bytes.HasPrefix(script, []byte("\xef\xbb\xbf")) {
		t.Error("script starts with a UTF-8 byte order mark")
	}
	for i, b := range script {
		if b >= 0x80 || (b < 0x20 && b != '\n' && b != '\r' && b != '\t') {
			t.Fatalf("byte %d is %#x: the script must be plain ASCII", i, b)
		}
	}
	text := string(script)
	for _, want := range []string{
		"'" + service.Name + "'",                    // the service it looks for
		"'" + installer.WindowsExecutableName + "'", // the MSI's file name
		"'shadowmap'",                               // the folder under Program Files
		"Get-Service", "ProgramW6432", "Write-Output", "exit 0", "exit 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("script does not mention %s", want)
		}
	}
	if !strings.HasSuffix(text, "\n") {
		t.Error("script does not end in a newline")
	}

	// Callers may change their copy without touching the next one.
	script[0] = 'X'
	if IntuneDetectionScript()[0] == 'X' {
		t.Error("IntuneDetectionScript returns shared memory")
	}
}

// TestIntuneDetectionScriptParses runs PowerShell's parser over the
// script where PowerShell (pwsh) is installed; CI and most Linux machines
// do not have it, so it skips unless SHADOWMAP_REQUIRE_PWSH=1.
func TestIntuneDetectionScriptParses(t *testing.T) {
	pwsh, err := exec.LookPath("pwsh")
	if err != nil {
		testenv.Missing(t, "Pwsh", "PowerShell (pwsh) is not installed")
	}
	file := filepath.Join(t.TempDir(), "detect.ps1")
	if err := os.WriteFile(file, IntuneDetectionScript(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// -Command takes the rest of the command line as script text, so the
	// path goes in as a single-quoted PowerShell string.
	quoted := "'" + strings.ReplaceAll(file, "'", "''") + "'"
	check := `$errs = $null; $tokens = $null; ` +
		`[void][System.Management.Automation.Language.Parser]::ParseFile(` + quoted + `, [ref]$tokens, [ref]$errs); ` +
		`if ($errs.Count -gt 0) { $errs | ForEach-Object { Write-Output $_.ToString() }; exit 1 }`
	out, err := exec.CommandContext(ctx, pwsh, "-NoProfile", "-NonInteractive", "-Command", check).CombinedOutput()
	if err != nil {
		t.Fatalf("pwsh parse: %v\n%s", err, out)
	}
}
