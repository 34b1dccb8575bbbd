package msi

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/installer"
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/internal/testcert"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

func mustVersion(t *testing.T, s string) installer.Version {
	t.Helper()
	v, err := installer.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWXSGolden(t *testing.T) {
	v := mustVersion(t, "v1.4.2-3-gabc1234")
	src, err := wxs(v)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/agent.wxs.golden", string(src))
	d := xml.NewDecoder(bytes.NewReader(src))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the .wxs is not well-formed XML: %v", err)
		}
	}
	golden.Check(t, "testdata/fixups.sql.golden", strings.Join(fixups(v), ";\n")+";\n")
}

func TestServiceArgsQuoteConfigPath(t *testing.T) {
	want := `run --config "[CommonAppDataFolder]shadowmap-agent\agent.yaml"`
	if got := serviceArgs(); got != want {
		t.Errorf("serviceArgs() = %q, want %q", got, want)
	}
}

func TestWindowsConfig(t *testing.T) {
	c := windowsConfig()
	if strings.Contains(c, "systemctl") || !strings.Contains(c, "Restart-Service shadowmap-agent") {
		t.Errorf("config template still has the Linux restart hint:\n%s", c)
	}
	if strings.Count(c, "\r\n") != strings.Count(c, "\n") {
		t.Error("config template has bare LF line endings")
	}
}

// needTools ends the test when a program the build or its checks run is
// missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "Packaging", tool+" is not installed (apt-get install wixl msitools osslsigncode)")
		}
	}
}

// fakeAgent is a file that passes for a Windows executable, for tests
// where the content does not matter.
func fakeAgent(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shadowmap-agent.exe")
	if err := os.WriteFile(p, []byte("MZ fake agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildAgent builds the real agent for Windows amd64.
func buildAgent(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shadowmap-agent.exe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "../../cmd/shadowmap-agent")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func msiinfo(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("msiinfo", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("msiinfo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// table is `msiinfo export` of one table as rows keyed by column name.
func table(t *testing.T, msi, name string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(msiinfo(t, "export", msi, name), "\r\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("table %s: short export %q", name, lines)
	}
	cols := strings.Split(strings.TrimRight(lines[0], "\r"), "\t")
	var rows []map[string]string
	for _, l := range lines[3:] {
		fields := strings.Split(strings.TrimRight(l, "\r"), "\t")
		row := map[string]string{}
		for i, c := range cols {
			if i < len(fields) {
				row[c] = fields[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// row is the one row of rows whose column key is value.
func row(t *testing.T, rows []map[string]string, key, value string) map[string]string {
	t.Helper()
	for _, r := range rows {
		if r[key] == value {
			return r
		}
	}
	t.Fatalf("no row with %s=%q in %v", key, value, rows)
	return nil
}

// wantRow checks the columns of the row whose key column is value.
func wantRow(t *testing.T, msi, tableName, key, value string, want map[string]string) {
	t.Helper()
	r := row(t, table(t, msi, tableName), key, value)
	for c, w := range want {
		if r[c] != w {
			t.Errorf("%s %s=%s: %s = %q, want %q", tableName, key, value, c, r[c], w)
		}
	}
}

func TestBuild(t *testing.T) {
	needTools(t, "wixl", "msibuild", "msiinfo", "msiextract")
	bin := buildAgent(t)
	v := mustVersion(t, "v1.4.2-3-gabc1234")
	out := t.TempDir()
	path, err := Build(context.Background(), installer.Input{Version: v, Arch: "amd64", Binary: bin, OutDir: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "shadowmap-agent-1.4.2-x64.msi"); path != want {
		t.Errorf("path = %s, want %s", path, want)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("output directory holds %d entries, want only the package", len(entries))
	}

	tables := strings.Fields(msiinfo(t, "tables", path))
	for _, name := range []string{"File", "Component", "Directory", "ServiceInstall", "ServiceControl", "Registry",
		"Upgrade", "InstallExecuteSequence", "Property", "AppSearch", "RegLocator", "CustomAction",
		"LaunchCondition", "MsiServiceConfigFailureActions", "CreateFolder", "MsiLockPermissionsEx"} {
		if !slices.Contains(tables, name) {
			t.Errorf("msiinfo tables: no %s in %v", name, tables)
		}
	}
	if info := msiinfo(t, "suminfo", path); !strings.Contains(info, "Template: x64;1033") {
		t.Errorf("summary information is not for x64:\n%s", info)
	}

	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, path, "File", "File", "AgentExe", map[string]string{
		"Component_": "Agent", "FileName": "shadowmap-agent.exe", "FileSize": strconv.FormatInt(fi.Size(), 10)})
	wantRow(t, path, "File", "File", "Config", map[string]string{"Component_": "Config", "FileName": "agent.yaml"})

	wantRow(t, path, "Directory", "Directory", "INSTALLDIR", map[string]string{"Directory_Parent": "ProgramFiles64Folder", "DefaultDir": "shadowmap"})
	wantRow(t, path, "Directory", "Directory", "DATADIR", map[string]string{"Directory_Parent": "CommonAppDataFolder", "DefaultDir": "shadowmap-agent"})

	components := []struct{ id, guid, attrs, cond, dir string }{
		{"Agent", guidAgent, "256", "", "INSTALLDIR"},
		{"Config", guidConfig, "400", "", "DATADIR"},                                                     // 64-bit, permanent, never overwrite
		{"CollectorURL", "{5456C370-5110-474D-9187-60502743ED95}", "260", "COLLECTOR_URL", "INSTALLDIR"}, // 64-bit, registry key path
		{"EnrollSecret", "{2BB5C7A5-98B3-4FC2-8D77-9AA2FAB81ED9}", "260", "ENROLL_SECRET", "INSTALLDIR"},
		{"OwnerEmail", "{046C794B-81C3-442D-A5BA-320F5A1301E7}", "260", "OWNER_EMAIL", "INSTALLDIR"},
	}
	for _, c := range components {
		wantRow(t, path, "Component", "Component", c.id, map[string]string{
			"ComponentId": c.guid, "Attributes": c.attrs, "Condition": c.cond, "Directory_": c.dir})
	}

	wantRow(t, path, "ServiceInstall", "Name", "shadowmap-agent", map[string]string{
		"DisplayName":  "shadowmap agent",
		"ServiceType":  "16",    // own process
		"StartType":    "2",     // auto
		"ErrorControl": "32769", // normal, vital: a failed install rolls back
		"StartName":    "LocalSystem",
		"Password":     "",
		"Arguments":    `run --config "[CommonAppDataFolder]shadowmap-agent\agent.yaml"`,
		"Component_":   "Agent",
	})
	// Start on install (1), stop on install (2) and uninstall (32),
	// delete on uninstall (128).
	wantRow(t, path, "ServiceControl", "Name", "shadowmap-agent", map[string]string{"Event": "163", "Wait": "1", "Component_": "Agent"})
	wantRow(t, path, "MsiServiceConfigFailureActions", "Name", "shadowmap-agent", map[string]string{
		"Event": "5", "ResetPeriod": "86400", "Actions": "1[~]1[~]1", "DelayActions": "10000[~]60000[~]60000", "Component_": "Agent"})

	for _, s := range []struct{ name, prop, comp string }{
		{"CollectorURL", "COLLECTOR_URL", "CollectorURL"},
		{"EnrollSecret", "ENROLL_SECRET", "EnrollSecret"},
		{"OwnerEmail", "OWNER_EMAIL", "OwnerEmail"},
	} {
		wantRow(t, path, "Registry", "Name", s.name, map[string]string{
			"Root": "2", "Key": `SOFTWARE\Policies\Shadowmap\Agent`, "Value": "[" + s.prop + "]", "Component_": s.comp})
		// The registry search keeps the installed value on an upgrade.
		wantRow(t, path, "AppSearch", "Property", "EXISTING_"+s.prop, map[string]string{"Signature_": "Find" + s.comp})
		wantRow(t, path, "RegLocator", "Signature_", "Find"+s.comp, map[string]string{
			"Root": "2", "Key": `SOFTWARE\Policies\Shadowmap\Agent`, "Name": s.name, "Type": "18"}) // raw, 64-bit view
		wantType := "2099" // set property
		if s.prop == "ENROLL_SECRET" {
			wantType = "8243" // set property, target hidden from the log
		}
		wantRow(t, path, "CustomAction", "Action", "Keep"+s.comp, map[string]string{
			"Type": wantType, "Source": s.prop, "Target": "[EXISTING_" + s.prop + "]"})
		wantRow(t, path, "LaunchCondition", "Condition", "NOT ("+s.prop+` << "#")`, map[string]string{
			"Description": s.prop + " cannot start with #: Windows Installer would write it to the registry as a number."})
	}

	// The version the Intune detection script compares, removed with the
	// agent.
	wantRow(t, path, "Registry", "Registry", "AgentVersion", map[string]string{
		"Root": "2", "Key": `SOFTWARE\Shadowmap\Agent`, "Name": "Version", "Value": "[ProductVersion]", "Component_": "Agent"})

	// The data folder and the policy key are locked to SYSTEM and
	// Administrators. The folder's row belongs to the component every
	// install installs; it is the only one, so no other folder is locked.
	folders := table(t, path, "CreateFolder")
	if len(folders) != 1 {
		t.Errorf("CreateFolder has %d rows, want 1: %v", len(folders), folders)
	}
	wantRow(t, path, "CreateFolder", "Directory_", "DATADIR", map[string]string{"Component_": "Agent"})
	locks := table(t, path, "MsiLockPermissionsEx")
	if len(locks) != 2 {
		t.Errorf("MsiLockPermissionsEx has %d rows, want 2: %v", len(locks), locks)
	}
	wantRow(t, path, "MsiLockPermissionsEx", "MsiLockPermissionsEx", "LockDataDir", map[string]string{
		"LockObject": "DATADIR", "Table": "CreateFolder", "SDDLText": "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", "Condition": ""})
	wantRow(t, path, "MsiLockPermissionsEx", "MsiLockPermissionsEx", "LockPolicyKey", map[string]string{
		"LockObject": "EnrollSecret", "Table": "Registry", "SDDLText": "D:PAI(A;CI;KA;;;SY)(A;CI;KA;;;BA)", "Condition": ""})
	// Windows Installer 5 refuses a package with both tables (error 1941).
	if slices.Contains(tables, "LockPermissions") {
		t.Error("the package has a LockPermissions table beside MsiLockPermissionsEx")
	}

	upgrades := table(t, path, "Upgrade")
	if len(upgrades) != 2 {
		t.Errorf("Upgrade has %d rows, want 2: %v", len(upgrades), upgrades)
	}
	// Older and same versions are removed; newer ones only detected.
	wantRow(t, path, "Upgrade", "ActionProperty", "WIX_UPGRADE_DETECTED", map[string]string{
		"UpgradeCode": UpgradeCode, "VersionMin": "", "VersionMax": "1.4.2", "Attributes": "513"})
	wantRow(t, path, "Upgrade", "ActionProperty", "WIX_DOWNGRADE_DETECTED", map[string]string{
		"UpgradeCode": UpgradeCode, "VersionMin": "1.4.2", "VersionMax": "", "Attributes": "2"})
	wantRow(t, path, "LaunchCondition", "Condition", "NOT WIX_DOWNGRADE_DETECTED", map[string]string{
		"Description": "A newer version of shadowmap agent is already installed. Uninstall it first to install this one."})

	seq := map[string]int{}
	for _, r := range table(t, path, "InstallExecuteSequence") {
		n, err := strconv.Atoi(r["Sequence"])
		if err != nil {
			t.Fatalf("InstallExecuteSequence %v: %v", r, err)
		}
		seq[r["Action"]] = n
	}
	order := [][]string{
		// The searched values are copied after the launch conditions
		// checked the ones given to msiexec, before costing picks the
		// components by their conditions.
		{"FindRelatedProducts", "AppSearch", "LaunchConditions", "KeepCollectorURL", "KeepEnrollSecret", "KeepOwnerEmail", "CostFinalize"},
		// The data folder is locked before agent.yaml is laid down in it.
		{"CreateFolders", "InstallFiles"},
		// The old product goes first, so its service is stopped and
		// deleted before the new one is installed.
		{"InstallValidate", "RemoveExistingProducts", "InstallInitialize"},
		{"InstallInitialize", "StopServices", "DeleteServices", "RemoveRegistryValues", "InstallFiles", "WriteRegistryValues",
			"InstallServices", "MsiConfigureServices", "StartServices", "InstallFinalize"},
	}
	for _, o := range order {
		for i := 1; i < len(o); i++ {
			a, okA := seq[o[i-1]]
			b, okB := seq[o[i]]
			if !okA || !okB || a >= b {
				t.Errorf("InstallExecuteSequence: want %s (%d) before %s (%d)", o[i-1], a, o[i], b)
			}
		}
	}
	wantRow(t, path, "InstallExecuteSequence", "Action", "KeepEnrollSecret", map[string]string{"Condition": "NOT ENROLL_SECRET AND EXISTING_ENROLL_SECRET"})

	props := map[string]string{}
	for _, r := range table(t, path, "Property") {
		props[r["Property"]] = r["Value"]
	}
	for p, want := range map[string]string{
		"ProductVersion":         "1.4.2",
		"ProductName":            "shadowmap agent",
		"UpgradeCode":            UpgradeCode,
		"ALLUSERS":               "1",
		"SecureCustomProperties": "WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;COLLECTOR_URL;ENROLL_SECRET;OWNER_EMAIL",
		"MsiHiddenProperties":    "ENROLL_SECRET;EXISTING_ENROLL_SECRET",
	} {
		if props[p] != want {
			t.Errorf("Property %s = %q, want %q", p, props[p], want)
		}
	}
	if code := props["ProductCode"]; len(code) != 38 {
		t.Errorf("ProductCode = %q, want a braced GUID", code)
	}

	// The cabinet holds the agent and the config template as built.
	x := t.TempDir()
	if b, err := exec.Command("msiextract", "-C", x, path).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, b)
	}
	for file, want := range map[string]string{
		"shadowmap/shadowmap-agent.exe": bin,
		"shadowmap-agent/agent.yaml":    "",
	} {
		got, err := os.ReadFile(filepath.Join(x, file))
		if err != nil {
			t.Errorf("msiextract: %v", err)
			continue
		}
		wantData := []byte(windowsConfig())
		if want != "" {
			if wantData, err = os.ReadFile(want); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, wantData) {
			t.Errorf("%s in the package differs from its source", file)
		}
	}
}

// testCert writes a self-signed code-signing certificate and its key as
// PEM files.
func testCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	return testcert.WriteCodeSigning(t, t.TempDir(), "signing")
}

func TestSign(t *testing.T) {
	needTools(t, "wixl", "msibuild", "osslsigncode")
	cert, key := testCert(t)
	in := installer.Input{Version: mustVersion(t, "v2.0.1"), Arch: "amd64", Binary: fakeAgent(t), OutDir: t.TempDir()}
	path, err := Build(context.Background(), in, &Signing{CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", path).CombinedOutput()
	if err != nil {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Signature verification: ok") {
		t.Errorf("osslsigncode verify:\n%s", out)
	}
}

func TestSignFailure(t *testing.T) {
	needTools(t, "wixl", "msibuild", "osslsigncode")
	cert, key := testCert(t)
	otherCert, _ := testCert(t)
	// A timestamp server that refuses every request, on loopback.
	tsa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer tsa.Close()
	tests := []struct {
		name string
		sign Signing
		want string
	}{
		{"missing key", Signing{CertFile: cert, KeyFile: filepath.Join(t.TempDir(), "nope.pem")}, "nope.pem"},
		{"key does not match", Signing{CertFile: otherCert, KeyFile: key}, "osslsigncode"},
		{"timestamp server fails", Signing{CertFile: cert, KeyFile: key, TimestampURL: tsa.URL}, "osslsigncode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			in := installer.Input{Version: mustVersion(t, "v2.0.1"), Arch: "amd64", Binary: fakeAgent(t), OutDir: out}
			_, err := Build(context.Background(), in, &tc.sign)
			if err == nil {
				t.Fatal("Build succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "build msi: sign with ") {
				t.Errorf("error %q, want it to name the signing step and %q", err, tc.want)
			}
			t.Log(err)
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("a failed build left %d entries in the output directory", len(entries))
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	agent := fakeAgent(t)
	notExe := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(notExe, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	ok := installer.Input{Version: installer.Version{Major: 1}, Arch: "amd64", Binary: agent, OutDir: t.TempDir()}
	tests := []struct {
		name   string
		change func(*installer.Input)
		sign   *Signing
		want   string
	}{
		{"arm64", func(in *installer.Input) { in.Arch = "arm64" }, nil, `architecture "arm64": the Windows package is built for amd64 only`},
		{"missing binary", func(in *installer.Input) { in.Binary = filepath.Join(t.TempDir(), "gone.exe") }, nil, "agent binary: stat"},
		{"no binary", func(in *installer.Input) { in.Binary = "" }, nil, "no agent binary given"},
		{"linux binary", func(in *installer.Input) { in.Binary = notExe }, nil, "is not a Windows executable"},
		{"major too big", func(in *installer.Input) { in.Version.Major = 256 }, nil, "version 256.0.0: Windows Installer takes at most 255.255.65535"},
		{"patch too big", func(in *installer.Input) { in.Version.Patch = 65536 }, nil, "version 1.0.65536"},
		{"no output directory", func(in *installer.Input) { in.OutDir = "" }, nil, "no output directory"},
		{"half a signing", func(*installer.Input) {}, &Signing{CertFile: "cert.pem"}, "signing needs both a certificate and a key file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.change(&in)
			_, err := Build(context.Background(), in, tc.sign)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "build msi: ") {
				t.Errorf("Build: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// wixl exits 0 when it drops an attribute it does not know; the build
// must not.
func TestWixlWarningFails(t *testing.T) {
	needTools(t, "wixl")
	dir := t.TempDir()
	src := strings.Replace(`<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="x" Language="1033" Version="1.0.0" Manufacturer="x" UpgradeCode="UC">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"/>
    <Property Id="X" Value="1" Secure="yes"/>
  </Product>
</Wix>
`, "UC", UpgradeCode, 1)
	if err := os.WriteFile(filepath.Join(dir, "x.wxs"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runTool(context.Background(), dir, "wixl", "--arch", "x64", "--output", "x.msi", "x.wxs")
	if err == nil || !strings.Contains(err.Error(), "Secure") {
		t.Errorf("runTool: %v, want an error naming the dropped attribute", err)
	}
}
