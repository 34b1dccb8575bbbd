package secret

import "testing"

func TestEqual(t *testing.T) {
	tests := []struct {
		want, presented string
		equal           bool
	}{
		{"s3cret-0123456789", "s3cret-0123456789", true},
		{"s3cret-0123456789", "s3cret-012345678", false},
		{"s3cret-0123456789", "s3cret-0123456789x", false},
		{"", "", false},
		{"", "x", false},
		{"x", "", false},
	}
	for _, tt := range tests {
		if got := Equal(tt.want, tt.presented); got != tt.equal {
			t.Errorf("Equal(%q, %q) = %v", tt.want, tt.presented, got)
		}
	}
}
