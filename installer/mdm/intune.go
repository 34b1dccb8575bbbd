package mdm

import (
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

//go:embed intune-detect.ps1
var intuneDetect string

// intuneDetectTemplate is parsed once; a template is safe to execute
// concurrently and is never changed.
var intuneDetectTemplate = template.Must(template.New("intune-detect.ps1").Parse(intuneDetect))

// IntuneDetectionScript is the PowerShell custom detection rule for the
// agent's MSI as an Intune Win32 app. It reports the app as installed
// (a line on standard output, exit code 0) when the shadowmap-agent
// service exists, its executable is in Program Files\shadowmap, and the
// version the MSI recorded under HKLM\SOFTWARE\Shadowmap\Agent is at
// least minVersion; otherwise it prints nothing and exits 1. minVersion
// is the MSI's ProductVersion (installer.Version.MSI()), major.minor.build
// within Windows Installer's 255.255.65535. The script is ASCII, so
// Intune runs it the same whatever encoding it assumes.
func IntuneDetectionScript(minVersion string) ([]byte, error) {
	if err := checkMSIVersion(minVersion); err != nil {
		return nil, fmt.Errorf("intune detection script: %w", err)
	}
	var b bytes.Buffer
	if err := intuneDetectTemplate.Execute(&b, struct{ MinVersion string }{minVersion}); err != nil {
		return nil, fmt.Errorf("intune detection script: %w", err)
	}
	return b.Bytes(), nil
}

// checkMSIVersion accepts N.N.N as Windows Installer writes ProductVersion:
// decimal without sign or leading zeros, so the text pasted into the
// script is exactly the number PowerShell's [version] reads.
func checkMSIVersion(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return fmt.Errorf("version %q: want major.minor.build, such as 1.4.2", v)
	}
	for i, p := range parts {
		max := 255
		if i == 2 {
			max = 65535
		}
		n, err := strconv.Atoi(p)
		if err != nil || p[0] < '0' || p[0] > '9' || (len(p) > 1 && p[0] == '0') || n > max {
			return fmt.Errorf("version %q: want major.minor.build with numbers up to 255.255.65535", v)
		}
	}
	return nil
}
