package agent

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/service"
)

// TestRunWithBadSettingsWaits checks what a wrongly configured agent does:
// it reports a configuration error (so the service runner waits and
// retries instead of crash-looping) and leaves the problems in its status
// file for `shadowmap-agent status`.
func TestRunWithBadSettingsWaits(t *testing.T) {
	stateDir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string // in one of the problems
	}{
		{"no collector", []string{"-state-dir", stateDir, "-config", ""}, "collector"},
		{"plain http to another host", []string{"-state-dir", stateDir, "-config", "", "-collector", "http://collector.example.com"}, "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			flags := config.RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			noEnv := func(string) string { return "" }
			err := runOnce(context.Background(), flags, noEnv, "test", io.Discard)
			if !errors.Is(err, service.ErrConfig) {
				t.Fatalf("run with bad settings: %v, want a configuration error", err)
			}
			st, err := ReadStatus(stateDir)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range st.ConfigProblems {
				found = found || strings.Contains(strings.ToLower(p), tt.want)
			}
			if !found {
				t.Errorf("status problems %q do not mention %q", st.ConfigProblems, tt.want)
			}
			var out strings.Builder
			PrintStatus(&out, st, st.Updated)
			if !strings.Contains(out.String(), "NOT RUNNING") {
				t.Errorf("status for a person does not say the agent waits:\n%s", out.String())
			}
		})
	}
}
