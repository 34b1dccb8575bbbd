package privdir

import "testing"

func TestWindowsDACL(t *testing.T) {
	const user = "S-1-5-21-1-2-3-1001"
	tests := []struct {
		name       string
		user       string
		privileged bool
		want       string
	}{
		{"service", sidSystem, true, "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
		{"elevated administrator", user, true, "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
		{"unelevated user", user, false, "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;" + user + ")"},
		{"unknown user", "", false, "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := windowsDACL(tc.user, tc.privileged); got != tc.want {
				t.Errorf("windowsDACL(%q, %v) = %q, want %q", tc.user, tc.privileged, got, tc.want)
			}
		})
	}
}

func TestTrustedWindowsOwner(t *testing.T) {
	const (
		user  = "S-1-5-21-1-2-3-1001"
		other = "S-1-5-21-1-2-3-1002"
		users = "S-1-5-32-545" // BUILTIN\Users
	)
	tests := []struct {
		owner, user string
		want        bool
	}{
		{sidSystem, sidSystem, true},
		{sidAdministrators, sidSystem, true},
		{user, sidSystem, false}, // planted by a user, found by the service
		{users, sidSystem, false},
		{user, user, true},
		{other, user, false},
		{sidSystem, user, true},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := trustedWindowsOwner(tc.owner, tc.user); got != tc.want {
			t.Errorf("trustedWindowsOwner(%q, %q) = %v, want %v", tc.owner, tc.user, got, tc.want)
		}
	}
}
