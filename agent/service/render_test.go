package service

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
	"howett.net/plist"
)

var (
	linuxDefinition = Definition{
		Executable: "/usr/bin/shadowmap-agent",
		ConfigPath: "/etc/shadowmap/agent.yaml",
		StateDir:   "/var/lib/shadowmap-agent",
	}
	darwinDefinition = Definition{
		Executable: "/usr/local/bin/shadowmap-agent",
		ConfigPath: "/Library/Application Support/shadowmap-agent/agent.yaml",
		StateDir:   "/Library/Application Support/shadowmap-agent",
	}
)

func TestSystemdUnitGolden(t *testing.T) {
	unit, err := SystemdUnit(linuxDefinition)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "shadowmap-agent.service.golden"), unit)
}

func TestLaunchdPlistGolden(t *testing.T) {
	p, err := LaunchdPlist(darwinDefinition)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "shadowmap-agent.plist.golden"), p)
}

// launchdJob is the part of a launchd job the plist must get right.
type launchdJob struct {
	Label                string            `plist:"Label"`
	ProgramArguments     []string          `plist:"ProgramArguments"`
	EnvironmentVariables map[string]string `plist:"EnvironmentVariables"`
	KeepAlive            bool              `plist:"KeepAlive"`
	RunAtLoad            bool              `plist:"RunAtLoad"`
	ThrottleInterval     int               `plist:"ThrottleInterval"`
	ProcessType          string            `plist:"ProcessType"`
	StandardOutPath      string            `plist:"StandardOutPath"`
	StandardErrorPath    string            `plist:"StandardErrorPath"`
}

func TestLaunchdPlistIsWellFormedAndSaysWhatItMeans(t *testing.T) {
	tests := []struct {
		name string
		d    Definition
	}{
		{"defaults", darwinDefinition},
		{"characters XML escapes", Definition{
			Executable: "/Applications/R&D <tools>/shadowmap-agent",
			ConfigPath: "/Library/Application Support/shadowmap-agent/it's.yaml",
			StateDir:   "/Library/Application Support/shadowmap-agent",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LaunchdPlist(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			dec := xml.NewDecoder(strings.NewReader(p))
			dec.Strict = true
			for {
				if _, err := dec.Token(); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("plist is not well-formed XML: %v\n%s", err, p)
				}
			}
			var job launchdJob
			format, err := plist.Unmarshal([]byte(p), &job)
			if err != nil {
				t.Fatal(err)
			}
			if format != plist.XMLFormat {
				t.Errorf("plist format %d, want XML", format)
			}
			want := launchdJob{
				Label:                Name,
				ProgramArguments:     []string{tt.d.Executable, "run", "--config", tt.d.ConfigPath},
				EnvironmentVariables: map[string]string{StateDirEnv: tt.d.StateDir},
				KeepAlive:            true,
				RunAtLoad:            true,
				ThrottleInterval:     launchdThrottleSeconds,
				ProcessType:          "Background",
				StandardOutPath:      "/Library/Logs/shadowmap-agent.log",
				StandardErrorPath:    "/Library/Logs/shadowmap-agent.log",
			}
			if !reflect.DeepEqual(job, want) {
				t.Errorf("plist decodes to\n%+v\nwant\n%+v", job, want)
			}
		})
	}
}

// kardianos renders the definitions we hand it as templates; without
// template actions they come out unchanged.
func TestKardianosConfig(t *testing.T) {
	tests := []struct {
		goos       string
		d          Definition
		option     string
		wantRender func(Definition) (string, error)
	}{
		{"linux", linuxDefinition, "SystemdScript", SystemdUnit},
		{"darwin", darwinDefinition, "LaunchdConfig", LaunchdPlist},
		{"windows", Definition{
			Executable: `C:\Program Files\shadowmap\shadowmap-agent.exe`,
			ConfigPath: `C:\ProgramData\shadowmap-agent\agent.yaml`,
			StateDir:   `C:\ProgramData\shadowmap-agent`,
		}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.goos, func(t *testing.T) {
			cfg, err := tt.d.kardianosConfig(tt.goos)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Name != Name || cfg.Executable != tt.d.Executable {
				t.Errorf("name %q executable %q", cfg.Name, cfg.Executable)
			}
			if got, want := cfg.Arguments, []string{"run", "--config", tt.d.ConfigPath}; !reflect.DeepEqual(got, want) {
				t.Errorf("arguments %q, want %q", got, want)
			}
			if got := cfg.EnvVars[StateDirEnv]; got != tt.d.StateDir {
				t.Errorf("%s = %q, want %q", StateDirEnv, got, tt.d.StateDir)
			}
			for _, key := range []string{"SystemdScript", "LaunchdConfig"} {
				s, present := cfg.Option[key].(string)
				if key != tt.option {
					if present {
						t.Errorf("option %s set on %s", key, tt.goos)
					}
					continue
				}
				want, err := tt.wantRender(tt.d)
				if err != nil {
					t.Fatal(err)
				}
				if s != want {
					t.Errorf("option %s is not the rendered definition", key)
				}
				if strings.Contains(s, "{{") {
					t.Errorf("option %s holds a template action:\n%s", key, s)
				}
			}
		})
	}
	if _, err := linuxDefinition.kardianosConfig("windows"); err == nil {
		t.Error("a definition with Unix paths was accepted for Windows")
	}
}

func TestSystemdUnitEscapesSpecifiers(t *testing.T) {
	d := linuxDefinition
	d.ConfigPath = "/etc/shadowmap/100%$HOME.yaml"
	unit, err := SystemdUnit(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ExecStart=/usr/bin/shadowmap-agent run --config /etc/shadowmap/100%%$$HOME.yaml\n"; !strings.Contains(unit, want) {
		t.Errorf("unit lacks %q:\n%s", want, unit)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		goos    string
		d       Definition
		wantErr string
	}{
		{"linux defaults", "linux", linuxDefinition, ""},
		{"darwin defaults", "darwin", darwinDefinition, ""},
		{"windows defaults", "windows", Definition{
			Executable: `C:\Program Files\shadowmap\shadowmap-agent.exe`,
			ConfigPath: `C:\ProgramData\shadowmap-agent\agent.yaml`,
			StateDir:   `C:\ProgramData\shadowmap-agent`,
		}, ""},
		{"relative config", "linux", Definition{Executable: "/usr/bin/a", ConfigPath: "agent.yaml", StateDir: "/var/lib/x"}, "not absolute"},
		{"empty state dir", "darwin", Definition{Executable: "/usr/bin/a", ConfigPath: "/etc/a.yaml"}, "is empty"},
		{"space on linux", "linux", darwinDefinition, "whitespace"},
		{"binary in a home", "linux", Definition{Executable: "/home/it/shadowmap-agent", ConfigPath: "/etc/a.yaml", StateDir: "/var/lib/x"}, "home directory"},
		{"template braces", "darwin", Definition{Executable: "/usr/bin/{{a}}", ConfigPath: "/etc/a.yaml", StateDir: "/var/lib/x"}, "brace"},
		{"quote", "linux", Definition{Executable: `/usr/bin/a"b`, ConfigPath: "/etc/a.yaml", StateDir: "/var/lib/x"}, "quote"},
		{"newline", "darwin", Definition{Executable: "/usr/bin/a\nb", ConfigPath: "/etc/a.yaml", StateDir: "/var/lib/x"}, "control character"},
		{"unix path on windows", "windows", linuxDefinition, "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate(tt.goos)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// systemd-analyze checks the unit the way systemd will read it. It is not
// installed in CI; where it is, the unit must load without errors.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	exe, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true binary for ExecStart")
	}
	d := linuxDefinition
	d.Executable = exe
	unit, err := SystemdUnit(d)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), Name+".service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Keys newer than the local systemd are reported and ignored; anything
	// else it says about our file is a mistake.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || !strings.Contains(line, path) {
			continue
		}
		if strings.Contains(line, "Unknown key 'RestartSteps'") || strings.Contains(line, "Unknown key 'RestartMaxDelaySec'") {
			continue
		}
		t.Errorf("systemd-analyze: %s", line)
	}
}
