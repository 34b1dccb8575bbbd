package mdm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/internal/testenv"
)

func fullOptions() ProfileOptions {
	return ProfileOptions{
		CollectorURL: "https://shadowmap.example.com",
		EnrollSecret: "s3cret-enroll-token",
		OwnerEmail:   "$EMAIL",
		Organization: "Acme",
		UUIDSeed:     "acme-2026",
		TeamID:       "ABCDE12345",
	}
}

func TestMobileConfigGolden(t *testing.T) {
	tests := []struct {
		name string
		opts ProfileOptions
	}{
		{"full", fullOptions()},
		{"minimal", ProfileOptions{CollectorURL: "https://collector.example.net:8443/shadowmap", EnrollSecret: "x"}},
		{"removable", ProfileOptions{CollectorURL: "http://127.0.0.1:8080", EnrollSecret: "dev", OwnerEmail: "ana@example.com", Identifier: "com.example.it.shadowmap", AllowRemoval: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MobileConfig(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tt.name+".mobileconfig.golden"), string(got))
			xmllint(t, got)
		})
	}
}

// xmllint checks data is well-formed XML, without fetching the DTD the
// plist header names.
func xmllint(t *testing.T, data []byte) {
	t.Helper()
	path, err := exec.LookPath("xmllint")
	if err != nil {
		testenv.Missing(t, "Packaging", "xmllint (libxml2-utils) is not installed")
	}
	file := filepath.Join(t.TempDir(), "profile.mobileconfig")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--noout", "--nonet", file).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("xmllint --noout --nonet: %v\n%s", err, out)
	}
}

// decoded is a profile read back as plain plist values.
type decoded map[string]any

func decode(t *testing.T, data []byte) decoded {
	t.Helper()
	var v map[string]any
	format, err := plist.Unmarshal(data, &v)
	if err != nil {
		t.Fatalf("decode profile: %v", err)
	}
	if format != plist.XMLFormat {
		t.Fatalf("profile format = %v, want XML", format)
	}
	return v
}

func (d decoded) payloads(t *testing.T) []map[string]any {
	t.Helper()
	list, ok := d["PayloadContent"].([]any)
	if !ok {
		t.Fatalf("PayloadContent is %T, want an array", d["PayloadContent"])
	}
	var out []map[string]any
	for i, p := range list {
		m, ok := p.(map[string]any)
		if !ok {
			t.Fatalf("PayloadContent[%d] is %T, want a dictionary", i, p)
		}
		out = append(out, m)
	}
	return out
}

func (d decoded) payload(t *testing.T, payloadType string) map[string]any {
	t.Helper()
	for _, p := range d.payloads(t) {
		if p["PayloadType"] == payloadType {
			return p
		}
	}
	t.Fatalf("no %s payload", payloadType)
	return nil
}

// agentSettings digs PayloadContent → com.shadowmap.agent → Forced[0] →
// mcx_preference_settings out of the managed preferences payload.
func (d decoded) agentSettings(t *testing.T) map[string]any {
	t.Helper()
	p := d.payload(t, "com.apple.ManagedClient.preferences")
	domains, ok := p["PayloadContent"].(map[string]any)
	if !ok {
		t.Fatalf("managed preferences PayloadContent is %T", p["PayloadContent"])
	}
	if len(domains) != 1 {
		t.Errorf("managed preferences cover %d domains, want only %s", len(domains), PreferenceDomain)
	}
	domain, ok := domains["com.shadowmap.agent"].(map[string]any)
	if !ok {
		t.Fatalf("no com.shadowmap.agent domain: %v", domains)
	}
	forced, ok := domain["Forced"].([]any)
	if !ok || len(forced) != 1 {
		t.Fatalf("Forced = %#v, want one entry", domain["Forced"])
	}
	entry, _ := forced[0].(map[string]any)
	settings, ok := entry["mcx_preference_settings"].(map[string]any)
	if !ok {
		t.Fatalf("Forced[0] = %#v, want mcx_preference_settings", forced[0])
	}
	return settings
}

func TestMobileConfigStructure(t *testing.T) {
	data, err := MobileConfig(fullOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, data)
	for key, want := range map[string]any{
		"PayloadType":              "Configuration",
		"PayloadScope":             "System",
		"PayloadIdentifier":        "com.shadowmap.agent.profile",
		"PayloadOrganization":      "Acme",
		"PayloadRemovalDisallowed": true,
		"PayloadVersion":           uint64(1),
	} {
		if got := d[key]; got != want {
			t.Errorf("%s = %#v, want %#v", key, got, want)
		}
	}
	if n := len(d.payloads(t)); n != 2 {
		t.Errorf("%d payloads, want 2", n)
	}

	settings := d.agentSettings(t)
	wantSettings := map[string]any{
		"CollectorURL": "https://shadowmap.example.com",
		"EnrollSecret": "s3cret-enroll-token",
		"OwnerEmail":   "$EMAIL",
	}
	if len(settings) != len(wantSettings) {
		t.Errorf("settings = %v, want %v", settings, wantSettings)
	}
	for k, want := range wantSettings {
		if settings[k] != want {
			t.Errorf("setting %s = %#v, want %#v", k, settings[k], want)
		}
	}

	sm := d.payload(t, "com.apple.servicemanagement")
	rules, ok := sm["Rules"].([]any)
	if !ok {
		t.Fatalf("Rules is %T", sm["Rules"])
	}
	var got []string
	for _, r := range rules {
		m, _ := r.(map[string]any)
		got = append(got, m["RuleType"].(string)+"="+m["RuleValue"].(string))
	}
	want := []string{"Label=" + service.Name, "TeamIdentifier=ABCDE12345"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rules = %v, want %v", got, want)
	}

	// Every payload carries the keys macOS requires, and identifiers and
	// UUIDs are unique within the profile.
	ids := map[string]bool{d["PayloadIdentifier"].(string): true}
	uuids := map[string]bool{d["PayloadUUID"].(string): true}
	for _, p := range d.payloads(t) {
		for _, k := range []string{"PayloadType", "PayloadIdentifier", "PayloadUUID", "PayloadVersion", "PayloadDisplayName"} {
			if _, ok := p[k]; !ok {
				t.Errorf("%v payload lacks %s", p["PayloadType"], k)
			}
		}
		id, _ := p["PayloadIdentifier"].(string)
		u, _ := p["PayloadUUID"].(string)
		if ids[id] || uuids[u] {
			t.Errorf("payload %v repeats an identifier or UUID (%s, %s)", p["PayloadType"], id, u)
		}
		ids[id], uuids[u] = true, true
	}
}

// TestMobileConfigAgentReadsSettings writes the forced settings as macOS
// would (/Library/Managed Preferences/com.shadowmap.agent.plist) and loads
// them with the agent's own config package.
func TestMobileConfigAgentReadsSettings(t *testing.T) {
	o := fullOptions()
	o.OwnerEmail = "ana@example.com"
	data, err := MobileConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	settings := decode(t, data).agentSettings(t)
	managed, err := plist.MarshalIndent(settings, plist.XMLFormat, "\t")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "com.shadowmap.agent.plist")
	if err := os.WriteFile(path, managed, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(config.Options{
		Managed:           config.PlistFile(path),
		DefaultConfigPath: filepath.Join(dir, "absent.yaml"),
	})
	if err != nil {
		t.Fatalf("agent rejects the profile's settings: %v", err)
	}
	if len(s.Warnings) > 0 {
		t.Errorf("agent warns about the profile's settings: %v", s.Warnings)
	}
	if s.CollectorURL.Value != o.CollectorURL || s.CollectorURL.Source != config.SourceMDM {
		t.Errorf("collector URL = %q from %s", s.CollectorURL.Value, s.CollectorURL.Where())
	}
	if s.EnrollSecret.Value.Reveal() != o.EnrollSecret || s.EnrollSecret.Source != config.SourceMDM {
		t.Errorf("enroll secret is not the profile's (from %s)", s.EnrollSecret.Where())
	}
	if s.OwnerEmail.Value != o.OwnerEmail {
		t.Errorf("owner email = %q, want %q", s.OwnerEmail.Value, o.OwnerEmail)
	}
}

var uuidRe = regexp.MustCompile(`[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}`)

func TestMobileConfigDeterministicUUIDs(t *testing.T) {
	mustConfig := func(o ProfileOptions) []byte {
		t.Helper()
		b, err := MobileConfig(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := fullOptions()
	a, b := mustConfig(base), mustConfig(base)
	if !bytes.Equal(a, b) {
		t.Fatal("same options gave different profiles")
	}
	uuids := uuidRe.FindAllString(string(a), -1)
	if len(uuids) != 3 {
		t.Fatalf("found %d UUIDs, want 3 (profile and two payloads): %v", len(uuids), uuids)
	}

	// New settings, same seed: the profile keeps its identity, so MDM
	// replaces the installed one.
	edited := base
	edited.CollectorURL = "https://new.example.com"
	edited.EnrollSecret = "rotated"
	if got := uuidRe.FindAllString(string(mustConfig(edited)), -1); strings.Join(got, ",") != strings.Join(uuids, ",") {
		t.Errorf("editing settings changed UUIDs: %v, was %v", got, uuids)
	}

	// Another seed: a different profile, every UUID new.
	other := base
	other.UUIDSeed = "globex-2026"
	for _, u := range uuidRe.FindAllString(string(mustConfig(other)), -1) {
		for _, old := range uuids {
			if u == old {
				t.Errorf("UUID %s survived a change of seed", u)
			}
		}
	}

	// No seed: the identifier seeds the UUIDs, so they still hold still.
	noSeed := base
	noSeed.UUIDSeed = ""
	if !bytes.Equal(mustConfig(noSeed), mustConfig(noSeed)) {
		t.Error("unseeded profile is not deterministic")
	}
	seededByID := noSeed
	seededByID.UUIDSeed = DefaultIdentifier
	if !bytes.Equal(mustConfig(noSeed), mustConfig(seededByID)) {
		t.Error("empty seed is not the identifier")
	}
}

func TestMobileConfigHostileValues(t *testing.T) {
	o := ProfileOptions{
		CollectorURL: "https://shadowmap.example.com/a&b/<x>",
		EnrollSecret: `</string><script>alert("x")</script><string>'&amp;`,
		Organization: `Acme "Quoted" & Sons <Ltd>`,
		OwnerEmail:   "{{mail}}",
	}
	data, err := MobileConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<script>", `</string><script>`, `"Quoted" & Sons`, "<Ltd>"} {
		if bytes.Contains(data, []byte(raw)) {
			t.Errorf("profile holds %q unescaped", raw)
		}
	}
	xmllint(t, data)
	d := decode(t, data)
	settings := d.agentSettings(t)
	if settings["EnrollSecret"] != o.EnrollSecret {
		t.Errorf("secret came back as %q", settings["EnrollSecret"])
	}
	if settings["CollectorURL"] != o.CollectorURL {
		t.Errorf("URL came back as %q", settings["CollectorURL"])
	}
	if d["PayloadOrganization"] != o.Organization {
		t.Errorf("organization came back as %q", d["PayloadOrganization"])
	}
}

func TestMobileConfigRejects(t *testing.T) {
	ok := fullOptions()
	tests := []struct {
		name string
		edit func(*ProfileOptions)
		want string
	}{
		{"no URL", func(o *ProfileOptions) { o.CollectorURL = "" }, "collector URL: is empty"},
		{"relative URL", func(o *ProfileOptions) { o.CollectorURL = "shadowmap.example.com" }, "not an absolute http(s) URL"},
		{"ftp URL", func(o *ProfileOptions) { o.CollectorURL = "ftp://shadowmap.example.com" }, "not an absolute http(s) URL"},
		{"http to remote", func(o *ProfileOptions) { o.CollectorURL = "http://shadowmap.example.com" }, "https is required"},
		{"no host", func(o *ProfileOptions) { o.CollectorURL = "https:///path" }, "has no host"},
		{"password in URL", func(o *ProfileOptions) { o.CollectorURL = "https://u:hunter2@shadowmap.example.com" }, "user name or password"},
		{"query", func(o *ProfileOptions) { o.CollectorURL = "https://shadowmap.example.com/?x=1" }, "query or fragment"},
		{"bad URL", func(o *ProfileOptions) { o.CollectorURL = "https://exa mple.com:x" }, "not a URL"},
		{"newline in URL", func(o *ProfileOptions) { o.CollectorURL = "https://shadowmap.example.com\n" }, "collector URL: holds control character U+000A"},
		{"empty secret", func(o *ProfileOptions) { o.EnrollSecret = "" }, "enroll secret is empty"},
		{"secret with newline", func(o *ProfileOptions) { o.EnrollSecret = "abc\n" }, "enroll secret: holds control character U+000A"},
		{"secret with NUL", func(o *ProfileOptions) { o.EnrollSecret = "a\x00b" }, "enroll secret: holds control character U+0000"},
		{"secret with spaces", func(o *ProfileOptions) { o.EnrollSecret = " abc " }, "white space"},
		{"secret not UTF-8", func(o *ProfileOptions) { o.EnrollSecret = "\xff\xfe" }, "enroll secret: is not valid UTF-8"},
		{"owner not an address", func(o *ProfileOptions) { o.OwnerEmail = "Ana Lopez" }, "owner email"},
		{"owner with name", func(o *ProfileOptions) { o.OwnerEmail = "Ana <ana@example.com>" }, "owner email"},
		{"owner half variable", func(o *ProfileOptions) { o.OwnerEmail = "$email" }, "owner email"},
		{"org with escape", func(o *ProfileOptions) { o.Organization = "Acme\x1b[31m" }, "organization: holds control character U+001B"},
		{"identifier", func(o *ProfileOptions) { o.Identifier = "shadowmap profile" }, "not reverse-DNS"},
		{"team ID", func(o *ProfileOptions) { o.TeamID = "abc" }, "team ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			out, err := MobileConfig(o)
			if err == nil {
				t.Fatalf("accepted; profile:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the URL's password: %v", err)
			}
		})
	}
}

func TestMobileConfigAcceptsOwnerForms(t *testing.T) {
	for _, owner := range []string{
		"", "ana@example.com", "$EMAIL", "${EMAIL}", "{{mail}}", "{{userprincipalname}}",
		"%Email%", "$FLEET_VAR_HOST_END_USER_EMAIL_IDP",
	} {
		o := fullOptions()
		o.OwnerEmail = owner
		if _, err := MobileConfig(o); err != nil {
			t.Errorf("owner email %q: %v", owner, err)
		}
	}
	for _, u := range []string{"https://shadowmap.example.com", "https://10.0.0.5:8443/base", "http://localhost:8080", "http://[::1]:8080", "http://127.0.0.2"} {
		o := fullOptions()
		o.CollectorURL = u
		if _, err := MobileConfig(o); err != nil {
			t.Errorf("collector URL %q: %v", u, err)
		}
	}
}

func TestMobileConfigRemoval(t *testing.T) {
	for _, allow := range []bool{false, true} {
		o := fullOptions()
		o.AllowRemoval = allow
		data, err := MobileConfig(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, data)["PayloadRemovalDisallowed"]; got != !allow {
			t.Errorf("AllowRemoval %v: PayloadRemovalDisallowed = %v", allow, got)
		}
	}
}
