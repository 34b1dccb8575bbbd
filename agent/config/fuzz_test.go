package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseFile: any bytes in the config file give settings or an error,
// never a panic, and every value set carries its file and line.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml", "testdata/bad.yaml", "testdata/typo.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseFile("agent.yaml", data)
		if err != nil {
			return
		}
		for k, v := range l.values {
			if v != nil && !strings.HasPrefix(v.origin, "agent.yaml line ") {
				t.Fatalf("%s has origin %q", keys[k].label, v.origin)
			}
		}
	})
}

// FuzzParseManagedPlist: any bytes in the managed preferences file give a
// dictionary or an error, never a panic, and mapping it never panics.
func FuzzParseManagedPlist(f *testing.F) {
	for _, name := range []string{"testdata/managed.plist", "testdata/managed.binary.plist"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		values, err := ParseManagedPlist(data)
		if err != nil {
			return
		}
		l, _, _ := managedLayer("fuzz", values)
		for k, v := range l.values {
			if v != nil && v.origin != "fuzz key "+keys[k].managed {
				t.Fatalf("%s has origin %q", keys[k].label, v.origin)
			}
		}
	})
}
