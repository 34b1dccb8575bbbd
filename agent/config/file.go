package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds the config file and the managed plist: settings are
// a few hundred bytes, so anything larger is a mistake, not a config.
const maxFileSize = 1 << 20

// DefaultConfigPath is where the agent looks for its config file on this
// OS. getenv (nil for none) supplies %ProgramData% on Windows.
func DefaultConfigPath(getenv func(string) string) string {
	return DefaultConfigPathFor(runtime.GOOS, getenv)
}

// DefaultConfigPathFor is DefaultConfigPath on goos; the installer's
// packages put the file there.
func DefaultConfigPathFor(goos string, getenv func(string) string) string {
	switch goos {
	case "darwin":
		return "/Library/Application Support/shadowmap-agent/agent.yaml"
	case "windows":
		return programData(getenv) + `\shadowmap-agent\agent.yaml`
	}
	return "/etc/shadowmap/agent.yaml"
}

// DefaultStateDir is the OS's place for a service's state.
func DefaultStateDir(getenv func(string) string) string {
	return DefaultStateDirFor(runtime.GOOS, getenv)
}

// DefaultStateDirFor is DefaultStateDir on goos.
func DefaultStateDirFor(goos string, getenv func(string) string) string {
	switch goos {
	case "darwin":
		return "/Library/Application Support/shadowmap-agent"
	case "windows":
		return programData(getenv) + `\shadowmap-agent`
	}
	return "/var/lib/shadowmap-agent"
}

func programData(getenv func(string) string) string {
	if getenv != nil {
		// "D:\ProgramData\" is as valid a value as "D:\ProgramData".
		if pd := strings.TrimRight(getenv("ProgramData"), `\`); pd != "" {
			return pd
		}
	}
	return `C:\ProgramData`
}

// fileSettings is the config file's schema. Fields are nodes so a value
// keeps its line number for `status` and for error messages; unknown keys
// are errors (KnownFields), so a typo does not silently do nothing.
type fileSettings struct {
	CollectorURL     yaml.Node `yaml:"collector_url"`
	EnrollSecret     yaml.Node `yaml:"enroll_secret"`
	EnrollSecretFile yaml.Node `yaml:"enroll_secret_file"`
	OwnerEmail       yaml.Node `yaml:"owner_email"`
	User             yaml.Node `yaml:"user"`
	Interfaces       yaml.Node `yaml:"interfaces"`
	FlushInterval    yaml.Node `yaml:"flush_interval"`
	StateDir         yaml.Node `yaml:"state_dir"`
	MemoryLimit      yaml.Node `yaml:"memory_limit"`
	CPUPercent       yaml.Node `yaml:"cpu_percent"`
	ResolverMode     yaml.Node `yaml:"resolver_mode"`
	UnknownDomains   yaml.Node `yaml:"unknown_domains"`
	OwnDomains       yaml.Node `yaml:"own_domains"`
	LogLevel         yaml.Node `yaml:"log_level"`
}

func (f *fileSettings) nodes() [numKeys]*yaml.Node {
	return [numKeys]*yaml.Node{
		keyCollectorURL: &f.CollectorURL, keyEnrollSecret: &f.EnrollSecret, keyEnrollSecretFile: &f.EnrollSecretFile,
		keyOwnerEmail: &f.OwnerEmail, keyUser: &f.User, keyInterfaces: &f.Interfaces, keyFlushInterval: &f.FlushInterval,
		keyStateDir: &f.StateDir, keyMemoryLimit: &f.MemoryLimit, keyCPUPercent: &f.CPUPercent,
		keyResolverMode: &f.ResolverMode, keyUnknownDomains: &f.UnknownDomains, keyOwnDomains: &f.OwnDomains, keyLogLevel: &f.LogLevel,
	}
}

// parseFile reads a YAML config file's bytes; name labels origins and
// errors. A file with only comments, or empty, sets nothing.
func parseFile(name string, data []byte) (layer, error) {
	l := layer{source: SourceFile}
	if len(data) > maxFileSize {
		return l, fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var fs fileSettings
	if err := dec.Decode(&fs); err != nil {
		if errors.Is(err, io.EOF) {
			return l, nil
		}
		return l, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return l, fmt.Errorf("%s: more than one YAML document", name)
	}
	var problems []string
	for k, n := range fs.nodes() {
		text, ok, err := nodeText(n, keys[k].list)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %s: %v", n.Line, keys[k].yaml, err))
			continue
		}
		if ok {
			l.set(key(k), text, fmt.Sprintf("%s line %d", name, n.Line))
		}
	}
	if len(problems) > 0 {
		return l, fmt.Errorf("%s: %s", name, strings.Join(problems, "; "))
	}
	return l, nil
}

// nodeText turns a value node into the text the parsers take. Absent and
// null values are unset. A list is allowed only where list says so, and is
// joined with commas.
func nodeText(n *yaml.Node, list bool) (string, bool, error) {
	switch {
	case n.Kind == 0:
		return "", false, nil
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "", false, nil
	case n.Kind == yaml.ScalarNode:
		return strings.TrimSpace(n.Value), true, nil
	case n.Kind == yaml.SequenceNode && list:
		items := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || strings.Contains(item.Value, ",") {
				return "", false, errors.New("give a list of names")
			}
			items = append(items, strings.TrimSpace(item.Value))
		}
		return strings.Join(items, ","), true, nil
	case list:
		return "", false, errors.New("give a list of names")
	}
	return "", false, errors.New("give a single value, not a list or a map")
}
