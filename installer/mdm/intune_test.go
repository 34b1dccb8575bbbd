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
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

func TestIntuneDetectionScriptText(t *testing.T) {
	script, err := IntuneDetectionScript("1.4.2")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/intune-detect.ps1.golden", string(script))
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
		`'SOFTWARE\Shadowmap\Agent'`,                // where the MSI records its version
		"GetValue('Version')",
		"$minVersion = [version]'1.4.2'", // the version it wants
		"-lt $minVersion",
		"Registry64", "Get-Service", "ProgramW6432", "Write-Output", "exit 0", "exit 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("script does not mention %s", want)
		}
	}
	if strings.Contains(text, "{{") {
		t.Error("script has an unrendered template action")
	}
	if !strings.HasSuffix(text, "\n") {
		t.Error("script does not end in a newline")
	}

	// Callers may change their copy without touching the next one.
	script[0] = 'X'
	if again, _ := IntuneDetectionScript("1.4.2"); again[0] == 'X' {
		t.Error("IntuneDetectionScript returns shared memory")
	}
}

func TestIntuneDetectionScriptVersion(t *testing.T) {
	tests := []struct {
		version string
		ok      bool
	}{
		{"1.4.2", true},
		{"0.0.0", true},
		{"255.255.65535", true},
		{"10.20.300", true},
		{"", false},
		{"1.4", false},
		{"1.4.2.7", false},
		{"v1.4.2", false},
		{"1.4.2-rc1", false},
		{"+1.4.2", false},
		{"1.-4.2", false},
		{"01.4.2", false},
		{"1..2", false},
		{"256.0.0", false},
		{"1.256.0", false},
		{"1.0.65536", false},
		{"1.4.2'; Remove-Item C:\\ #", false},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			script, err := IntuneDetectionScript(tc.version)
			if !tc.ok {
				if err == nil || !strings.HasPrefix(err.Error(), "intune detection script: version ") {
					t.Errorf("IntuneDetectionScript(%q) = %v, want a version error", tc.version, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(script), "[version]'"+tc.version+"'") {
				t.Errorf("script does not compare with %s", tc.version)
			}
		})
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
	script, err := IntuneDetectionScript("1.4.2")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, script, 0o600); err != nil {
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
