package config

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// TestPolicyRegistry reads a real registry key, under HKEY_CURRENT_USER
// so the test needs no administrator, holding each value type MDM writes.
func TestPolicyRegistry(t *testing.T) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	path := `SOFTWARE\ShadowmapTest\Agent-` + hex.EncodeToString(b[:])
	store := policyRegistry{root: registry.CURRENT_USER, rootName: "HKCU", path: path}

	if v, err := store.Values(); err != nil || v != nil {
		t.Fatalf("absent key: %v, %v; want nothing", v, err)
	}

	k, _, err := registry.CreateKey(registry.CURRENT_USER, path, registry.ALL_ACCESS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Close()
		registry.DeleteKey(registry.CURRENT_USER, path)
	})
	for _, err := range []error{
		k.SetStringValue("CollectorURL", "https://c.example.com"),
		k.SetDWordValue("UnknownDomains", 1),
		k.SetStringsValue("OwnDomains", []string{"Acme.com", "bücher.example"}),
		k.SetBinaryValue("OwnerEmail", []byte{1, 2}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	values, err := store.Values()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"CollectorURL":   "https://c.example.com",
		"UnknownDomains": uint64(1),
		"OwnDomains":     []string{"Acme.com", "bücher.example"},
		"OwnerEmail":     registryType(registry.BINARY),
	}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values %#v, want %#v", values, want)
	}

	tests := []struct {
		name  string
		value any
		want  []string
	}{
		{"REG_MULTI_SZ", nil, []string{"acme.com", "xn--bcher-kva.example"}},
		{"comma-separated REG_SZ", "acme.com, bücher.example", []string{"acme.com", "xn--bcher-kva.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value != nil {
				if err := k.SetStringValue("OwnDomains", tt.value.(string)); err != nil {
					t.Fatal(err)
				}
			}
			s, _ := Load(Options{Managed: store, DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml")})
			if !reflect.DeepEqual(s.OwnDomains.Value, tt.want) || s.OwnDomains.Where() != `MDM profile HKCU\`+path+` key OwnDomains` {
				t.Errorf("own domains %q from %s", s.OwnDomains.Value, s.OwnDomains.Where())
			}
		})
	}
}
