package classify

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

func TestCommand(t *testing.T) {
	files := []string{filepath.Join("testdata", "cmd", "vercel-receipt.eml"), filepath.Join("testdata", "cmd", "forged-slack.eml")}
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"text", append([]string{"classify"}, files...), "classify.txt"},
		{"json", append([]string{"classify", "--json"}, files...), "classify.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := Command(&stdout, &stderr).Run(tt.args); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			golden.Check(t, filepath.Join("testdata", "golden", tt.golden), stdout.String())
		})
	}
}

func TestCommandJSONIsOneObjectPerFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := Command(&stdout, &stderr).Run([]string{"classify", "--json", filepath.Join("testdata", "cmd", "vercel-receipt.eml")}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		File string `json:"file"`
		Result
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindReceipt || got.AppID != "vercel" || got.AmountCents != 6000 || got.Seats != 3 || got.Plan != "Pro" {
		t.Errorf("got %+v", got)
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"classify"}, "give at least one message file"},
		{[]string{"classify", "--bogus", "x.eml"}, "flag provided but not defined"},
		{[]string{"classify", filepath.Join("testdata", "cmd", "no-such.eml")}, "could not be read"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := Command(&stdout, &stderr).Run(tt.args)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
			t.Errorf("%v: err %v, stderr %q; want %q", tt.args, err, stderr.String(), tt.want)
		}
	}
}
