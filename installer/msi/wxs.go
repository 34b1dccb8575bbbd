package msi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/installer"
)

// UpgradeCode identifies the agent across all its versions: every
// package carries it so a newer one finds and replaces an older one. It
// must never change.
const UpgradeCode = "{7C5A1963-8E56-48F6-91F2-20CEB59B68EB}"

// Component GUIDs are fixed so Windows Installer counts a component as the
// same one in every version. A component's GUID must change if its key
// path (the file or registry value) moves.
const (
	guidAgent  = "{0141E22A-8A62-4980-8822-0FE80E677B18}"
	guidConfig = "{FCDE3635-6E3B-45C7-A9C4-71F6007F67D3}"
)

// policyKey is the agent's managed-settings key under HKLM
// (agent/config/managed_windows.go).
const policyKey = `SOFTWARE\Policies\Shadowmap\Agent`

// productKey holds what the MSI records about the installed agent for
// others to read: the Version value the Intune detection script
// (installer/mdm) compares with the version it wants. It is not under
// Policies: it describes the install, it configures nothing.
const productKey = `SOFTWARE\Shadowmap\Agent`

// configSource is the config template's file name in the build directory.
const configSource = "agent.yaml"

// setting is an MSI public property that ends up as a REG_SZ value under
// policyKey. Property is what msiexec takes (COLLECTOR_URL=...), Existing
// the private property a registry search fills with the value already
// installed, ID the component and custom action names.
type setting struct {
	ID, Property, Existing, Value, GUID string
	// Sequence places the custom action that keeps the installed value
	// after LaunchConditions (100), which then sees only the values given
	// to msiexec, and before costing decides the components (1000).
	Sequence int
	Secret   bool
}

// policySettings are written to the policy key only when given, and kept
// from the previous install on an upgrade when not.
func policySettings() []setting {
	s := []setting{
		{ID: "CollectorURL", Property: "COLLECTOR_URL", Value: "CollectorURL", GUID: "{5456C370-5110-474D-9187-60502743ED95}", Sequence: 101},
		{ID: "EnrollSecret", Property: "ENROLL_SECRET", Value: "EnrollSecret", GUID: "{2BB5C7A5-98B3-4FC2-8D77-9AA2FAB81ED9}", Sequence: 102, Secret: true},
		{ID: "OwnerEmail", Property: "OWNER_EMAIL", Value: "OwnerEmail", GUID: "{046C794B-81C3-442D-A5BA-320F5A1301E7}", Sequence: 103},
	}
	for i := range s {
		s[i].Existing = "EXISTING_" + s[i].Property
	}
	return s
}

// wxsData is what the template fills in.
type wxsData struct {
	Version, UpgradeCode, Exe, Config, PolicyKey string
	ProductKey                                   string
	AgentGUID, ConfigGUID                        string
	Service                                      string
	ServiceArgs                                  string
	Settings                                     []setting
	Hidden                                       string
	Downgrade                                    string
}

func hiddenProperties() string {
	var names []string
	for _, s := range policySettings() {
		if s.Secret {
			names = append(names, s.Property, s.Existing)
		}
	}
	return strings.Join(names, ";")
}

// serviceArgs are the service's arguments. They name only the config
// file: a service's command line is readable by every user, so the enroll
// secret reaches the agent through the policy key instead. That key is
// readable by every user too, as all of HKLM\SOFTWARE\Policies is, until
// the install locks it to SYSTEM and Administrators (fixups: the
// MsiLockPermissionsEx row on the EnrollSecret value).
func serviceArgs() string {
	d := service.Definition{ConfigPath: `[CommonAppDataFolder]shadowmap-agent\agent.yaml`}
	args := d.Arguments()
	for i, a := range args {
		if strings.ContainsAny(a, ` \`) {
			args[i] = `"` + a + `"`
		}
	}
	return strings.Join(args, " ")
}

// wxs is the WiX source wixl compiles. The build's file paths are
// relative, so it is the same for every build of a version; only the
// ProductCode (Id="*") differs between builds.
func wxs(v installer.Version) ([]byte, error) {
	data := wxsData{
		Version:     v.MSI(),
		UpgradeCode: UpgradeCode,
		Exe:         installer.WindowsExecutableName,
		Config:      configSource,
		PolicyKey:   policyKey,
		ProductKey:  productKey,
		AgentGUID:   guidAgent,
		ConfigGUID:  guidConfig,
		Service:     service.Name,
		ServiceArgs: serviceArgs(),
		Settings:    policySettings(),
		Hidden:      hiddenProperties(),
		Downgrade:   "A newer version of shadowmap agent is already installed. Uninstall it first to install this one.",
	}
	var b bytes.Buffer
	if err := wxsTemplate.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("wxs: %w", err)
	}
	return b.Bytes(), nil
}

// attr escapes s for an XML attribute value or text.
func attr(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// The template escapes every value with attr; the GUIDs in it are braced
// because wixl writes them into the tables as given.
//
// What wixl 0.101 leaves out is added by fixups: component Conditions,
// Property/@Secure, MajorUpgrade/@AllowSameVersionUpgrades,
// CustomAction/@HideTarget, ServiceInstall/@Vital, ServiceConfig,
// Permanent/NeverOverwrite components, and the locked data folder and
// policy key (PermissionEx; CreateFolder/@Directory, which wixl ignores
// without a warning). They are absent here: wixl warns about most of them
// and drops them, and ignores the rest.
//
// Actions get explicit sequence numbers: wixl 0.101 places actions given
// with After= wrongly when several follow one action (and, for
// MajorUpgrade with custom actions, RemoveExistingProducts after
// InstallFinalize). The launch conditions refuse a setting starting with
// '#', which the Registry table reads as a type prefix (#123 a DWORD) in
// the formatted value; the registry search returns a REG_SZ "#x" as "##x",
// which writes it back unchanged, so they run before the custom actions
// copy the searched values. RemoveExistingProducts follows InstallValidate (1400)
// so the old product, its service and its registry values are gone before
// the new one installs: the registry searches (AppSearch, 50) have read
// the values to keep by then.
var wxsTemplate = template.Must(template.New("wxs").Funcs(template.FuncMap{"attr": attr}).Parse(`<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="shadowmap agent" Language="1033" Version="{{attr .Version}}" Manufacturer="shadowmap" UpgradeCode="{{attr .UpgradeCode}}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" Description="shadowmap agent {{attr .Version}}" Comments="shadowmap endpoint agent"/>
    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>

    <MajorUpgrade DowngradeErrorMessage="{{attr .Downgrade}}"/>
{{- range .Settings}}
    <Condition Message="{{attr .Property}} cannot start with #: Windows Installer would write it to the registry as a number.">NOT ({{attr .Property}} &lt;&lt; "#")</Condition>
{{- end}}
{{range .Settings}}
    <Property Id="{{attr .Existing}}">
      <RegistrySearch Id="Find{{attr .ID}}" Root="HKLM" Key="{{attr $.PolicyKey}}" Name="{{attr .Value}}" Type="raw" Win64="yes"/>
    </Property>
    <CustomAction Id="Keep{{attr .ID}}" Property="{{attr .Property}}" Value="[{{attr .Existing}}]"/>
{{- end}}
    <Property Id="MsiHiddenProperties" Value="{{attr .Hidden}}"/>

    <InstallExecuteSequence>
      <RemoveExistingProducts Sequence="1401"/>
{{- range .Settings}}
      <Custom Action="Keep{{attr .ID}}" Sequence="{{.Sequence}}">NOT {{attr .Property}} AND {{attr .Existing}}</Custom>
{{- end}}
    </InstallExecuteSequence>
    <InstallUISequence>
{{- range .Settings}}
      <Custom Action="Keep{{attr .ID}}" Sequence="{{.Sequence}}">NOT {{attr .Property}} AND {{attr .Existing}}</Custom>
{{- end}}
    </InstallUISequence>

    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="shadowmap">
          <Component Id="Agent" Guid="{{attr .AgentGUID}}" Win64="yes">
            <File Id="AgentExe" Name="{{attr .Exe}}" Source="{{attr .Exe}}" KeyPath="yes"/>
            <ServiceInstall Id="AgentService" Name="{{attr .Service}}" DisplayName="shadowmap agent" Description="Reports which cloud apps this computer uses to the shadowmap collector." Type="ownProcess" Start="auto" ErrorControl="normal" Account="LocalSystem" Arguments="{{attr .ServiceArgs}}" Vital="yes"/>
            <ServiceControl Id="AgentService" Name="{{attr .Service}}" Start="install" Stop="both" Remove="uninstall" Wait="yes"/>
            <RegistryValue Id="AgentVersion" Root="HKLM" Key="{{attr .ProductKey}}" Name="Version" Type="string" Value="[ProductVersion]"/>
          </Component>
{{- range .Settings}}
          <Component Id="{{attr .ID}}" Guid="{{attr .GUID}}" Win64="yes">
            <RegistryValue Id="{{attr .ID}}" Root="HKLM" Key="{{attr $.PolicyKey}}" Name="{{attr .Value}}" Type="string" Value="[{{attr .Property}}]" KeyPath="yes"/>
          </Component>
{{- end}}
        </Directory>
      </Directory>
      <Directory Id="CommonAppDataFolder">
        <Directory Id="DATADIR" Name="shadowmap-agent">
          <Component Id="Config" Guid="{{attr .ConfigGUID}}" Win64="yes">
            <File Id="Config" Name="agent.yaml" Source="{{attr .Config}}" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>

    <Feature Id="Agent" Level="1" Title="shadowmap agent">
      <ComponentRef Id="Agent"/>
      <ComponentRef Id="Config"/>
{{- range .Settings}}
      <ComponentRef Id="{{attr .ID}}"/>
{{- end}}
    </Feature>
  </Product>
</Wix>
`))
