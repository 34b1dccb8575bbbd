package installer

import (
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/service"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in                  string
		str, deb, rpmV, rel string
		msi                 string
	}{
		{"v1.2.3", "1.2.3", "1.2.3", "1.2.3", "1", "1.2.3"},
		{"1.2.3", "1.2.3", "1.2.3", "1.2.3", "1", "1.2.3"},
		{"v0.4.0-12-gabc1234", "0.4.0-12-gabc1234", "0.4.0+git12.abc1234", "0.4.0", "1.git12.abc1234", "0.4.0"},
		{"v0.4.0-12-gabc1234-dirty", "0.4.0-12-gabc1234-dirty", "0.4.0+git12.abc1234.dirty", "0.4.0", "1.git12.abc1234.dirty", "0.4.0"},
		{"v2.0.1-dirty", "2.0.1-dirty", "2.0.1+dirty", "2.0.1", "1.dirty", "2.0.1"},
		{"7f71048", "0.0.0-0-g7f71048", "0.0.0+git0.7f71048", "0.0.0", "1.git0.7f71048", "0.0.0"},
		{"7f71048-dirty", "0.0.0-0-g7f71048-dirty", "0.0.0+git0.7f71048.dirty", "0.0.0", "1.git0.7f71048.dirty", "0.0.0"},
		{"dev", "0.0.0", "0.0.0", "0.0.0", "1", "0.0.0"},
		{"v255.255.65535", "255.255.65535", "255.255.65535", "255.255.65535", "1", "255.255.65535"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := ParseVersion(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			rpmV, rel := v.RPM()
			got := []string{v.String(), v.Deb(), rpmV, rel, v.MSI()}
			want := []string{tc.str, tc.deb, tc.rpmV, tc.rel, tc.msi}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("String, Deb, RPM, MSI = %q, want %q", got, want)
			}
		})
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, in := range []string{"v1.2", "v1.2.3.4", "v256.0.0", "v1.256.0", "v1.0.65536", "release-1", "v1.2.3-rc1", "ABC1234", "v1.2.3-4-gxyz", "1.2.3\n"} {
		if v, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want an error", in, v)
		}
	}
}

// TestPathsMatchAgentDefaults keeps the packages' paths where the agent
// looks without flags on each OS, so `shadowmap-agent status` works on an
// installed machine as it is.
func TestPathsMatchAgentDefaults(t *testing.T) {
	for _, tc := range []struct {
		goos string
		def  service.Definition
	}{
		{"linux", LinuxDefinition()},
		{"darwin", DarwinDefinition()},
	} {
		if want := config.DefaultConfigPathFor(tc.goos, nil); tc.def.ConfigPath != want {
			t.Errorf("%s: config %q, the agent looks at %q", tc.goos, tc.def.ConfigPath, want)
		}
		if want := config.DefaultStateDirFor(tc.goos, nil); tc.def.StateDir != want {
			t.Errorf("%s: state %q, the agent uses %q", tc.goos, tc.def.StateDir, want)
		}
		if err := tc.def.Validate(tc.goos); err != nil {
			t.Errorf("%s definition: %v", tc.goos, err)
		}
	}
}
