package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDomains(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string // substring of the error; "" for none
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "acme.com", want: []string{"acme.com"}},
		{in: " Acme.COM , corp.acme.net. ", want: []string{"acme.com", "corp.acme.net"}},
		{in: "bücher.example,BÜCHER.de", want: []string{"xn--bcher-kva.example", "xn--bcher-kva.de"}},
		{in: "xn--bcher-kva.example", want: []string{"xn--bcher-kva.example"}},
		{in: "acme.co.uk", want: []string{"acme.co.uk"}},
		{in: "corp.internal", want: []string{"corp.internal"}},
		{in: "corp", want: []string{"corp"}}, // an internal single-label zone
		{in: "*.acme.com", wantErr: `"*.acme.com" is a wildcard`},
		{in: ".acme.com", wantErr: `".acme.com" is a wildcard`},
		{in: "acme.*", wantErr: "is a wildcard"},
		{in: "10.0.0.1", wantErr: `"10.0.0.1" is an IP address`},
		{in: "::1", wantErr: "is an IP address"},
		{in: "[2001:db8::1]", wantErr: "is an IP address"},
		{in: "1.2.3", wantErr: "is an IP address"},
		{in: "acme.com,,acme.net", wantErr: "an entry is empty"},
		{in: "acme.com,", wantErr: "an entry is empty"},
		{in: ".", wantErr: "an entry is empty"},
		{in: "https://acme.com", wantErr: "not a bare domain name"},
		{in: "acme.com:443", wantErr: "not a bare domain name"},
		{in: "acme.com/path", wantErr: "not a bare domain name"},
		{in: "a@acme.com", wantErr: "not a bare domain name"},
		{in: "acme .com", wantErr: "not a bare domain name"},
		{in: "acme.com\x00", wantErr: "not a bare domain name"},
		{in: "acme..com", wantErr: "empty label"},
		{in: strings.Repeat("a", 64) + ".com", wantErr: "longer than 63"},
		{in: strings.Repeat("a.", 127) + "com", wantErr: "longer than 253"},
		{in: "acme_corp.com", wantErr: "not a valid domain name"},
		{in: "-acme.com", wantErr: "not a valid domain name"},
		{in: "com", wantErr: `"com" is a public suffix`},
		{in: "co.uk", wantErr: "is a public suffix"},
		// Every bad entry is named, not just the first.
		{in: "*.a.com,10.0.0.1,ok.com", wantErr: `"*.a.com" is a wildcard: give the domain itself, such as acme.com; names under it are covered; "10.0.0.1" is an IP address`},
	}
	for _, tt := range tests {
		got, err := parseDomains(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestOwnDomainsPrecedence(t *testing.T) {
	tests := []struct {
		name                 string
		flag, env, mdm, file bool
		want                 []string
		wantWhere            string
	}{
		{"all", true, true, true, true, []string{"flag.example"}, "flag -own-domains"},
		{"env over mdm and file", false, true, true, true, []string{"env.example", "xn--bcher-kva.example"}, "environment SHADOWMAP_AGENT_OWN_DOMAINS"},
		{"mdm over file", false, false, true, true, []string{"mdm.example", "corp.mdm.example"}, "MDM profile MDM key OwnDomains"},
		// A block list's line is its first item's, where YAML puts the value.
		{"file alone", false, false, false, true, []string{"file.example", "file.example.net"}, "config file {file} line 3"},
		{"flag over file", true, false, false, true, []string{"flag.example"}, "flag -own-domains"},
		{"none", false, false, false, false, nil, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{DefaultConfigPath: filepath.Join(dir, "absent.yaml")}
			var args []string
			if tt.flag {
				args = append(args, "-own-domains", "FLAG.example")
			}
			opts.Flags = parseFlags(t, args...)
			env := map[string]string{}
			if tt.env {
				env["SHADOWMAP_AGENT_OWN_DOMAINS"] = "env.example, Bücher.example"
			}
			opts.Getenv = envOf(env)
			if tt.mdm {
				opts.Managed = fakeStore{"OwnDomains": []any{"mdm.example", "corp.mdm.example"}}
			}
			if tt.file {
				opts.DefaultConfigPath = writeFile(t, dir, "agent.yaml", "collector_url: https://c.example.com\nown_domains:\n  - file.example\n  - file.example.net\n", 0o600)
			}
			s, err := Load(opts)
			var ps Problems
			if err != nil && !errors.As(err, &ps) {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.Setting == "own domains" {
					t.Errorf("problem: %s", p)
				}
			}
			wantWhere := strings.ReplaceAll(tt.wantWhere, "{file}", opts.DefaultConfigPath)
			got := s.OwnDomains
			if !reflect.DeepEqual(got.Value, tt.want) || got.Where() != wantWhere {
				t.Errorf("got %q from %s, want %q from %s", got.Value, got.Where(), tt.want, wantWhere)
			}
			// `status` shows the list and where it came from.
			line := ownDomainsLine(t, s)
			wantText := "none"
			if tt.want != nil {
				wantText = strings.Join(tt.want, ",")
			}
			if line.Value != wantText || line.Where != wantWhere {
				t.Errorf("status line %+v, want %q from %s", line, wantText, wantWhere)
			}
		})
	}
}

func ownDomainsLine(t *testing.T, s *Settings) Entry {
	t.Helper()
	for _, e := range s.Redacted() {
		if e.Name == "own domains" {
			return e
		}
	}
	t.Fatalf("no own domains line in\n%s", s)
	return Entry{}
}

func TestOwnDomainsValidation(t *testing.T) {
	many := func(n int) string {
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf("d%d.example.com", i)
		}
		return strings.Join(list, ",")
	}
	tests := []struct {
		name    string
		env     string
		want    int    // domains kept
		problem string // "" for none
	}{
		{"100 domains", many(MaxOwnDomains), MaxOwnDomains, ""},
		{"101 domains", many(MaxOwnDomains + 1), MaxOwnDomains + 1, "own domains (from environment SHADOWMAP_AGENT_OWN_DOMAINS): lists 101 domains: give at most 100"},
		{"same domain twice once normalized", "acme.com,ACME.com.", 2, `"acme.com" is listed twice`},
		{"IDN and its punycode", "bücher.example,xn--bcher-kva.example", 2, `"xn--bcher-kva.example" is listed twice`},
		// A bad entry reports and leaves the default, not half a list.
		{"a wildcard", "acme.com,*.acme.net", 0, `own domains (from environment SHADOWMAP_AGENT_OWN_DOMAINS): "*.acme.net" is a wildcard`},
		{"an empty entry", "acme.com,,acme.net", 0, "an entry is empty"},
		{"an IP", "192.168.0.1", 0, "is an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(Options{
				DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml"),
				Getenv: envOf(map[string]string{"SHADOWMAP_AGENT_COLLECTOR": "https://c.example.com",
					"SHADOWMAP_AGENT_ENROLL_SECRET": "x", "SHADOWMAP_AGENT_OWN_DOMAINS": tt.env}),
			})
			if tt.problem == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("error = %v, want %q", err, tt.problem)
			}
			if len(s.OwnDomains.Value) != tt.want {
				t.Errorf("%d domains kept, want %d", len(s.OwnDomains.Value), tt.want)
			}
			if tt.want == 0 && s.OwnDomains.Source != SourceDefault {
				t.Errorf("source %s, want the default after a bad value", s.OwnDomains.Source)
			}
		})
	}
}

// TestOwnDomainsFromPlist reads the new key from a real plist, XML and
// binary, the way macOS writes a profile's array.
func TestOwnDomainsFromPlist(t *testing.T) {
	for _, data := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
	<key>OwnDomains</key>
	<array><string>Acme.com</string><string>bücher.example</string></array>
</dict></plist>`,
		`<plist version="1.0"><dict><key>OwnDomains</key><string>acme.com, bücher.example</string></dict></plist>`,
	} {
		path := writeFile(t, t.TempDir(), "com.shadowmap.agent.plist", data, 0o644)
		s, _ := Load(Options{Managed: PlistFile(path), DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml")})
		want := []string{"acme.com", "xn--bcher-kva.example"}
		if !reflect.DeepEqual(s.OwnDomains.Value, want) || s.OwnDomains.Where() != "MDM profile "+path+" key OwnDomains" {
			t.Errorf("own domains %q from %s, want %q", s.OwnDomains.Value, s.OwnDomains.Where(), want)
		}
	}
	bad := writeFile(t, t.TempDir(), "bad.plist",
		`<plist version="1.0"><dict><key>OwnDomains</key><array><integer>1</integer></array></dict></plist>`, 0o644)
	_, err := Load(Options{Managed: PlistFile(bad), DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml")})
	if err == nil || !strings.Contains(err.Error(), "OwnDomains: item 1 has type uint64: give an array of strings") {
		t.Errorf("error = %v", err)
	}
}
