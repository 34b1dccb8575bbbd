package mdm

import (
	"regexp"
	"testing"
)

func TestUUIDV5(t *testing.T) {
	// The DNS namespace of RFC 9562 and the version 5 UUID every
	// implementation gives for www.example.com.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	tests := []struct {
		ns   [16]byte
		name string
		want string
	}{
		{dns, "www.example.com", "2ED6657D-E927-568B-95E1-2665A8AEA6A2"},
	}
	for _, tt := range tests {
		if got := uuidV5(tt.ns, tt.name); got != tt.want {
			t.Errorf("uuidV5(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
	v5 := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	for _, name := range []string{"", "a", "com.shadowmap.agent.profile\x00Configuration"} {
		if u := nameUUID(name); !v5.MatchString(u) {
			t.Errorf("nameUUID(%q) = %s: not a version 5 UUID", name, u)
		}
	}
}
