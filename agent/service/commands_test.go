package service

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	kservice "github.com/kardianos/service"
)

// fakeManager is a service manager in memory: the commands' decisions are
// what is under test here; the real one is exercised by
// TestSystemdRoundTrip where systemd runs.
type fakeManager struct {
	state string // StateNotInstalled, StateStopped, StateRunning or StateFailed
	calls []string
	def   *Definition // what Install was asked to write
}

func (f *fakeManager) Platform() string { return "fake" }

func (f *fakeManager) Status() (kservice.Status, error) {
	switch f.state {
	case StateRunning:
		return kservice.StatusRunning, nil
	case StateStopped:
		return kservice.StatusStopped, nil
	case StateFailed:
		return kservice.StatusUnknown, errors.New("service in failed state")
	}
	return kservice.StatusUnknown, kservice.ErrNotInstalled
}

func (f *fakeManager) do(call, needs, next string) error {
	f.calls = append(f.calls, call)
	if needs == "installed" && f.state == StateNotInstalled {
		return errors.New("not installed")
	}
	f.state = next
	return nil
}

func (f *fakeManager) Install() error   { return f.do("install", "", StateStopped) }
func (f *fakeManager) Uninstall() error { return f.do("uninstall", "installed", StateNotInstalled) }
func (f *fakeManager) Start() error     { return f.do("start", "installed", StateRunning) }
func (f *fakeManager) Stop() error      { return f.do("stop", "installed", StateStopped) }

type fixture struct {
	dir, stateDir, configPath string
	m                         *fakeManager
	admin                     bool
	unsupported               bool // no service manager this package supports
	recovered                 bool
	stdout, stderr            bytes.Buffer
}

func newFixture(t *testing.T, state string) *fixture {
	dir := t.TempDir()
	return &fixture{
		dir:        dir,
		stateDir:   filepath.Join(dir, "var", "shadowmap-agent"),
		configPath: filepath.Join(dir, "etc", "shadowmap", "agent.yaml"),
		m:          &fakeManager{state: state},
		admin:      true,
	}
}

func (f *fixture) run(args ...string) error {
	c := &commands{
		stdout: &f.stdout, stderr: &f.stderr, stateDir: f.stateDir, goos: "linux",
		isAdmin:    func() bool { return f.admin },
		executable: func() (string, error) { return "/usr/bin/shadowmap-agent", nil },
		installManager: func(d Definition) (manager, error) {
			f.m.def = &d
			return f.m, nil
		},
		controlManager: func() (manager, error) {
			if f.unsupported {
				return nil, errUnsupported()
			}
			return f.m, nil
		},
		afterInstall: func() error { f.recovered = true; return nil },
	}
	return c.run(args)
}

func (f *fixture) writeConfig(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(f.configPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.configPath, []byte("collector: https://c.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.stateDir, "spool.log"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestServiceCommand(t *testing.T) {
	tests := []struct {
		name        string
		state       string // before
		notAdmin    bool
		unsupported bool
		withConfig  bool
		args        func(f *fixture) []string
		wantErr     string
		wantCalls   []string
		wantState   string // after
		wantOut     string
		check       func(t *testing.T, f *fixture)
	}{
		{
			name: "install", state: StateNotInstalled,
			args:      func(f *fixture) []string { return []string{"install", "--config", f.configPath} },
			wantCalls: []string{"install"}, wantState: StateStopped,
			wantOut: "does not exist yet",
			check: func(t *testing.T, f *fixture) {
				want := Definition{Executable: "/usr/bin/shadowmap-agent", ConfigPath: f.configPath, StateDir: f.stateDir}
				if f.m.def == nil || *f.m.def != want {
					t.Errorf("installed %+v, want %+v", f.m.def, want)
				}
				if info, err := os.Stat(f.stateDir); err != nil || info.Mode().Perm() != 0o700 {
					t.Errorf("state directory: %v, %v", info, err)
				}
				if !f.recovered {
					t.Error("recovery actions were not set")
				}
			},
		},
		{
			name: "install refuses without admin rights", state: StateNotInstalled, notAdmin: true,
			args:    func(f *fixture) []string { return []string{"install"} },
			wantErr: "needs administrator rights", wantState: StateNotInstalled,
			check: func(t *testing.T, f *fixture) {
				if exists(f.stateDir) {
					t.Error("state directory created without admin rights")
				}
			},
		},
		{
			name: "install refuses a relative config path", state: StateNotInstalled,
			args:    func(f *fixture) []string { return []string{"install", "--config", "agent.yaml"} },
			wantErr: "not absolute", wantState: StateNotInstalled,
		},
		{
			name: "install over a running service replaces it and keeps it running", state: StateRunning, withConfig: true,
			args:      func(f *fixture) []string { return []string{"install", "--config", f.configPath} },
			wantCalls: []string{"stop", "uninstall", "install", "start"}, wantState: StateRunning,
			wantOut: "started shadowmap-agent again",
		},
		{
			name: "uninstall stops first and keeps data", state: StateRunning, withConfig: true,
			args:      func(f *fixture) []string { return []string{"uninstall", "--config", f.configPath} },
			wantCalls: []string{"stop", "uninstall"}, wantState: StateNotInstalled,
			wantOut: "--purge",
			check: func(t *testing.T, f *fixture) {
				if !exists(f.configPath) || !exists(filepath.Join(f.stateDir, "spool.log")) {
					t.Error("uninstall without --purge deleted data")
				}
			},
		},
		{
			name: "uninstall --purge deletes config and state", state: StateStopped, withConfig: true,
			args:      func(f *fixture) []string { return []string{"uninstall", "--purge", "--config", f.configPath} },
			wantCalls: []string{"stop", "uninstall"}, wantState: StateNotInstalled,
			check: func(t *testing.T, f *fixture) {
				if exists(f.configPath) || exists(f.stateDir) || exists(filepath.Dir(f.configPath)) {
					t.Error("--purge left the config or state behind")
				}
			},
		},
		{
			name: "purge refuses a state directory that is not the agent's", state: StateNotInstalled, withConfig: true,
			args: func(f *fixture) []string {
				return []string{"uninstall", "--purge", "--config", f.configPath, "--state-dir", f.dir}
			},
			wantErr: "does not look like", wantState: StateNotInstalled,
			check: func(t *testing.T, f *fixture) {
				if !exists(f.stateDir) {
					t.Error("the directory was deleted anyway")
				}
			},
		},
		{
			name: "uninstall when not installed", state: StateNotInstalled,
			args:    func(f *fixture) []string { return []string{"uninstall"} },
			wantOut: "is not installed", wantState: StateNotInstalled,
		},
		{
			name: "start", state: StateStopped,
			args:      func(f *fixture) []string { return []string{"start"} },
			wantCalls: []string{"start"}, wantState: StateRunning, wantOut: "started shadowmap-agent",
		},
		{
			name: "start a failed service", state: StateFailed,
			args:      func(f *fixture) []string { return []string{"start"} },
			wantCalls: []string{"start"}, wantState: StateRunning,
		},
		{
			name: "start when not installed", state: StateNotInstalled,
			args:    func(f *fixture) []string { return []string{"start"} },
			wantErr: "service install", wantState: StateNotInstalled,
		},
		{
			name: "start needs admin rights", state: StateStopped, notAdmin: true,
			args:    func(f *fixture) []string { return []string{"start"} },
			wantErr: "administrator", wantState: StateStopped,
		},
		{
			name: "stop", state: StateRunning,
			args:      func(f *fixture) []string { return []string{"stop"} },
			wantCalls: []string{"stop"}, wantState: StateStopped, wantOut: "stopped shadowmap-agent",
		},
		{
			name: "stop when stopped", state: StateStopped,
			args:    func(f *fixture) []string { return []string{"stop"} },
			wantOut: "is not running", wantState: StateStopped,
		},
		{
			name: "status without admin rights", state: StateRunning, notAdmin: true,
			args:    func(f *fixture) []string { return []string{"status"} },
			wantOut: "running\n", wantState: StateRunning,
		},
		{
			name: "status not installed", state: StateNotInstalled,
			args:    func(f *fixture) []string { return []string{"status"} },
			wantOut: "not-installed\n", wantState: StateNotInstalled,
		},
		{
			name: "status failed", state: StateFailed,
			args:    func(f *fixture) []string { return []string{"status"} },
			wantOut: "failed\n", wantState: StateFailed,
		},
		{
			name: "status without a supported service manager", state: StateNotInstalled, unsupported: true,
			args:    func(f *fixture) []string { return []string{"status"} },
			wantOut: "unsupported\n", wantState: StateNotInstalled,
		},
		{
			name: "start without a supported service manager", state: StateNotInstalled, unsupported: true,
			args:    func(f *fixture) []string { return []string{"start"} },
			wantErr: "only systemd", wantState: StateNotInstalled,
		},
		{
			name: "unknown subcommand", state: StateStopped,
			args:    func(f *fixture) []string { return []string{"restart-everything"} },
			wantErr: "unknown subcommand", wantState: StateStopped,
		},
		{
			name: "no subcommand", state: StateStopped,
			args:    func(f *fixture) []string { return nil },
			wantErr: "give a subcommand", wantState: StateStopped,
		},
		{
			name: "stray argument", state: StateStopped,
			args:    func(f *fixture) []string { return []string{"status", "now"} },
			wantErr: "unexpected argument", wantState: StateStopped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.state)
			f.admin = !tt.notAdmin
			f.unsupported = tt.unsupported
			if tt.withConfig {
				f.writeConfig(t)
			}
			err := f.run(tt.args(f)...)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error: %v\nstderr: %s", err, f.stderr.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(f.m.calls, tt.wantCalls) {
				t.Errorf("service manager calls %q, want %q", f.m.calls, tt.wantCalls)
			}
			if f.m.state != tt.wantState {
				t.Errorf("state after: %s, want %s", f.m.state, tt.wantState)
			}
			if !strings.Contains(f.stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", f.stdout.String(), tt.wantOut)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestStateOfUnexpectedError(t *testing.T) {
	m := &erroringManager{err: errors.New("dbus: connection refused")}
	if _, err := stateOf(m); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("stateOf = %v, want the manager's error", err)
	}
}

type erroringManager struct {
	fakeManager
	err error
}

func (e *erroringManager) Status() (kservice.Status, error) { return kservice.StatusUnknown, e.err }

func TestSupportedPlatform(t *testing.T) {
	tests := []struct {
		goos, platform string
		want           bool
	}{
		{"linux", "linux-systemd", true},
		{"linux", "linux-sysv", false},
		{"linux", "linux-upstart", false},
		{"linux", "", false},
		{"darwin", "darwin-launchd", true},
		{"windows", "windows-service", true},
		{"freebsd", "freebsd", false},
	}
	for _, tt := range tests {
		if got := supportedPlatform(tt.goos, tt.platform); got != tt.want {
			t.Errorf("supportedPlatform(%s, %s) = %v, want %v", tt.goos, tt.platform, got, tt.want)
		}
	}
}
