// Package mdm writes what an MDM server needs to configure the shadowmap
// agent: a macOS configuration profile (.mobileconfig) carrying the
// agent's managed settings and allowing its LaunchDaemon as a managed
// background item, and the PowerShell detection script an Intune Win32 app
// uses to tell whether the agent is installed on Windows.
//
// The packages stay generic; everything company-specific (collector URL,
// enroll secret, owner email) travels in the profile or, on Windows, in
// the MSI properties or the policy registry key.
package mdm
