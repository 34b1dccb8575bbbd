package mdm

import _ "embed"

//go:embed intune-detect.ps1
var intuneDetect []byte

// IntuneDetectionScript is the PowerShell custom detection rule for the
// agent's MSI as an Intune Win32 app. It reports the app as installed
// (a line on standard output, exit code 0) when the shadowmap-agent
// service exists and its executable is in Program Files\shadowmap;
// otherwise it prints nothing and exits 1. It is ASCII, so Intune runs it
// the same whatever encoding it assumes. The caller gets its own copy.
func IntuneDetectionScript() []byte {
	return append([]byte(nil), intuneDetect...)
}
