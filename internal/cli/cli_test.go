package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMain(t *testing.T) {
	commands := map[string]Command{
		"ok":       {Usage: "ok", Run: func([]string) error { return nil }},
		"fail":     {Usage: "fail", Run: func([]string) error { return errors.New("boom") }},
		"reported": {Usage: "reported", Run: func([]string) error { return fmt.Errorf("3 problems: %w", ErrReported) }},
	}
	tests := []struct {
		args       []string
		code       int
		stderrHas  string
		stderrNone bool
	}{
		{args: []string{"ok"}, code: 0, stderrNone: true},
		{args: []string{"fail"}, code: 1, stderrHas: "prog: boom"},
		{args: []string{"reported"}, code: 1, stderrNone: true},
		{args: nil, code: 2, stderrHas: "usage: prog"},
		{args: []string{"nope"}, code: 2, stderrHas: `unknown command "nope"`},
		{args: []string{"help"}, code: 0, stderrNone: true},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := Main("prog", &out, &errb, commands, tt.args); code != tt.code {
			t.Errorf("Main(%q) = %d, want %d", tt.args, code, tt.code)
		}
		if tt.stderrNone && errb.Len() > 0 {
			t.Errorf("Main(%q) wrote to stderr: %q", tt.args, errb.String())
		}
		if !strings.Contains(errb.String(), tt.stderrHas) {
			t.Errorf("Main(%q) stderr %q does not contain %q", tt.args, errb.String(), tt.stderrHas)
		}
	}
}
