package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"howett.net/plist"
)

// wantManaged is what testdata/managed.plist and its binary twin hold.
var wantManaged = map[string]any{
	"CollectorURL":   "https://mdm-collector.example.com",
	"EnrollSecret":   "mdm-secret-8f14e45fceea167a",
	"OwnerEmail":     "bob@example.com",
	"FlushInterval":  uint64(600),
	"ResolverMode":   "off",
	"UnknownDomains": true,
	"OwnDomains":     []any{"acme.com", "acme-corp.net"},
	"PayloadUUID":    "5E7C0D6B-9E0B-4F4B-9D36-0B1A7C6D2E11",
	"CollectorUrl2":  "typo",
}

func TestParseManagedPlist(t *testing.T) {
	// The binary file was generated once from the XML one with
	// plist.Marshal(v, plist.BinaryFormat); the in-test encoding checks a
	// fresh binary plist too.
	xmlData, err := os.ReadFile("testdata/managed.plist")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := plist.Marshal(wantManaged, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("testdata/managed.binary.plist")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"xml": xmlData, "committed binary": committed, "fresh binary": fresh} {
		got, err := ParseManagedPlist(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, wantManaged) {
			t.Errorf("%s: got %#v", name, got)
		}
	}
}

func TestParseManagedPlistBad(t *testing.T) {
	tests := map[string]string{
		"array at top":  `<plist version="1.0"><array><string>a</string></array></plist>`,
		"truncated":     "bplist00\xd1\x01\x02",
		"not a plist":   "collector_url: https://x\n",
		"xml garbage":   "<plist><dict><key>a</key></plist>",
		"oversized":     strings.Repeat(" ", maxFileSize+1),
		"binary header": "bplist00" + strings.Repeat("\xff", 40),
	}
	for name, data := range tests {
		if v, err := ParseManagedPlist([]byte(data)); err == nil {
			t.Errorf("%s: no error, got %v", name, v)
		}
	}
}

func TestPlistFile(t *testing.T) {
	v, err := PlistFile(filepath.Join(t.TempDir(), "absent.plist")).Values()
	if err != nil || v != nil {
		t.Errorf("no profile installed: %v, %v; want nothing", v, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.plist")
	if err := os.WriteFile(bad, []byte("<plist><array/></plist>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PlistFile(bad).Values(); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v does not name the file", err)
	}
}

func TestManagedLayer(t *testing.T) {
	tests := []struct {
		name     string
		values   map[string]any
		want     map[key]string
		warnings int
		wantErr  string
	}{
		{name: "plist types", values: map[string]any{"CollectorURL": "https://c", "FlushInterval": uint64(600), "UnknownDomains": false},
			want: map[key]string{keyCollectorURL: "https://c", keyFlushInterval: "600", keyUnknownDomains: "false"}},
		{name: "registry types and case", values: map[string]any{"collectorurl": "https://c", "UnknownDomains": uint64(1), "FlushInterval": "5m"},
			want: map[key]string{keyCollectorURL: "https://c", keyUnknownDomains: "1", keyFlushInterval: "5m"}},
		{name: "signed and real numbers", values: map[string]any{"FlushInterval": int64(60), "UnknownDomains": float64(0)},
			want: map[key]string{keyFlushInterval: "60", keyUnknownDomains: "0"}},
		{name: "unknown keys warn, Payload keys do not", values: map[string]any{"PayloadIdentifier": "x", "Colector": "x", "StateDir": "/x"},
			want: map[key]string{}, warnings: 2},
		{name: "array value", values: map[string]any{"CollectorURL": []any{"a"}, "OwnerEmail": "a@b.c"},
			want: map[key]string{keyOwnerEmail: "a@b.c"}, wantErr: "CollectorURL: has type []interface {}"},
		{name: "own domains as plist array", values: map[string]any{"OwnDomains": []any{"acme.com", " acme.net "}},
			want: map[key]string{keyOwnDomains: "acme.com,acme.net"}},
		{name: "own domains as REG_MULTI_SZ, any case", values: map[string]any{"owndomains": []string{"acme.com", "Bücher.example"}},
			want: map[key]string{keyOwnDomains: "acme.com,Bücher.example"}},
		{name: "own domains as comma-separated REG_SZ", values: map[string]any{"OwnDomains": "acme.com,acme.net"},
			want: map[key]string{keyOwnDomains: "acme.com,acme.net"}},
		{name: "own domains empty array", values: map[string]any{"OwnDomains": []any{}}, want: map[key]string{keyOwnDomains: ""}},
		{name: "own domains array of numbers", values: map[string]any{"OwnDomains": []any{"acme.com", uint64(7)}},
			want: map[key]string{}, wantErr: "OwnDomains: item 2 has type uint64: give an array of strings"},
		{name: "own domains item with a comma", values: map[string]any{"OwnDomains": []string{"a.com,b.com"}},
			want: map[key]string{}, wantErr: `item 1 "a.com,b.com" holds a comma`},
		{name: "own domains as a dictionary", values: map[string]any{"OwnDomains": map[string]any{"a": "b"}},
			want: map[key]string{}, wantErr: "give an array of strings or one comma-separated string"},
		{name: "REG_MULTI_SZ where one value goes", values: map[string]any{"CollectorURL": []string{"https://c"}},
			want: map[key]string{}, wantErr: "CollectorURL: has type []string"},
		{name: "fraction", values: map[string]any{"FlushInterval": 1.5}, want: map[key]string{}, wantErr: "1.5 is not a whole number"},
		{name: "nothing", values: nil, want: map[key]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, warnings, err := managedLayer("store", tt.values)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
			got := map[key]string{}
			for k, v := range l.values {
				if v != nil {
					got[key(k)] = v.text
					if want := "store key " + keys[k].managed; v.origin != want {
						t.Errorf("origin %q, want %q", v.origin, want)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
