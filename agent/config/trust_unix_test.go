//go:build unix

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shadowmap/shadowmap/internal/testenv"
)

// nobody is the uid of the unprivileged account on Debian and macOS.
const nobody = 65534

// TestUntrustedFiles: run as root, Load refuses a config file or enroll
// secret file another account could have written, as a Problem on that
// file, and takes no setting from it.
func TestUntrustedFiles(t *testing.T) {
	testenv.Missing(t, "Root", testenv.NotRoot("files owned by nobody"))
	const collector = "https://planted.example.com"
	tests := []struct {
		name       string
		configMode os.FileMode
		configUID  int
		secretMode os.FileMode
		secretUID  int
		dirMode    os.FileMode // of the directory holding both files
		setting    string      // of the Problem; "" for none
		want       string      // in its message, {config} and {secret} replaced by the paths
	}{
		{name: "both root's, 0644 and 0600", configMode: 0o644, secretMode: 0o600, dirMode: 0o755},
		{name: "both root's, 0600", configMode: 0o600, secretMode: 0o600, dirMode: 0o700},
		{
			name: "config file group-writable", configMode: 0o664, secretMode: 0o600, dirMode: 0o755,
			setting: "config file",
			want:    "{config} is writable by group or others (mode 0664): the agent runs as root and will not trust it; chmod 600 and chown root",
		},
		{
			name: "config file world-writable", configMode: 0o646, secretMode: 0o600, dirMode: 0o755,
			setting: "config file", want: "(mode 0646)",
		},
		{
			name: "config file owned by nobody", configMode: 0o644, configUID: nobody, secretMode: 0o600, dirMode: 0o755,
			setting: "config file", want: "{config} is owned by uid 65534",
		},
		{
			name: "directory anyone can write", configMode: 0o644, secretMode: 0o600, dirMode: 0o777,
			setting: "config file", want: "which is writable by group or others (mode 0777)",
		},
		{
			name: "enroll secret file group-writable", configMode: 0o644, secretMode: 0o620, dirMode: 0o755,
			setting: "enroll secret file", want: "{secret} is writable by group or others (mode 0620)",
		},
		{
			name: "enroll secret file owned by nobody", configMode: 0o644, secretMode: 0o600, secretUID: nobody, dirMode: 0o755,
			setting: "enroll secret file", want: "{secret} is owned by uid 65534",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "shadowmap")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			secret := writeFile(t, dir, "secret", "s3cret\n", tt.secretMode)
			config := writeFile(t, dir, "agent.yaml", "collector_url: "+collector+"\nenroll_secret_file: "+secret+"\n", tt.configMode)
			for path, uid := range map[string]int{secret: tt.secretUID, config: tt.configUID} {
				if err := os.Chown(path, uid, uid); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			s, err := Load(Options{DefaultConfigPath: config})
			var ps Problems
			if err != nil && !errors.As(err, &ps) {
				t.Fatalf("Load error %v is not Problems", err)
			}
			if tt.setting == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if s.CollectorURL.Value != collector || s.EnrollSecret.Value.Reveal() != "s3cret" {
					t.Errorf("collector %q, secret set %v: want both from the files", s.CollectorURL.Value, s.EnrollSecret.Value.Reveal() != "")
				}
				return
			}
			want := strings.NewReplacer("{config}", config, "{secret}", secret).Replace(tt.want)
			var found *Problem
			for i, p := range ps {
				if p.Setting == tt.setting {
					found = &ps[i]
				}
			}
			if found == nil || !strings.Contains(found.Message, want) {
				t.Fatalf("Load = %v, want a %q problem with %q", err, tt.setting, want)
			}
			if tt.setting == "config file" {
				if found.Where != config {
					t.Errorf("problem is about %q, want %q", found.Where, config)
				}
				// Nothing from a refused file is used.
				if s.CollectorURL.Value != "" || s.CollectorURL.Source != SourceDefault || s.ConfigFileExists {
					t.Errorf("collector URL %q from %s (file exists: %v), want none from the refused file", s.CollectorURL.Value, s.CollectorURL.Source, s.ConfigFileExists)
				}
			}
			if s.EnrollSecret.Value.Reveal() != "" {
				t.Errorf("enroll secret set from a refused file")
			}
			t.Log(found)
		})
	}
}

// TestConfigFileFIFO: a FIFO where the config file should be is refused at
// once; opening it would block the agent until something wrote to it.
func TestConfigFileFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load(Options{DefaultConfigPath: path})
		done <- err
	}()
	err := <-done // a blocked open would hang here until the test times out
	var ps Problems
	if !errors.As(err, &ps) || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("Load with a FIFO = %v, want a not-a-regular-file problem", err)
	}
}
