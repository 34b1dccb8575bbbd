package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/agent/privdir"
)

// Options says where Load looks.
type Options struct {
	// Flags are the parsed command-line flags (RegisterFlags); nil for none.
	Flags *Flags
	// Getenv reads the environment (os.Getenv); nil for none.
	Getenv func(string) string
	// Managed is the MDM settings store, DefaultManagedStore() in the
	// agent; nil for none.
	Managed ManagedStore
	// DefaultConfigPath is the config file read when neither -config nor
	// SHADOWMAP_AGENT_CONFIG names one; "" means DefaultConfigPath(Getenv).
	// The default file may be missing; a file named by -config or the
	// environment must exist.
	DefaultConfigPath string
}

// maxSecretSize bounds an enroll secret file.
const maxSecretSize = 64 << 10

// Load gathers the settings from flags, environment, MDM store and config
// file, highest first, and validates them. It always returns the settings
// it could resolve, so `status` can show them; when anything is wrong it
// also returns Problems listing every problem (use errors.As).
func Load(opts Options) (*Settings, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	s := defaults(getenv)
	var problems Problems

	layers := []layer{opts.Flags.layer(), envLayer(getenv)}

	if opts.Managed != nil {
		values, err := opts.Managed.Values()
		if err != nil {
			problems = append(problems, Problem{Setting: "managed settings", Where: opts.Managed.Location(), Message: err.Error()})
		}
		l, warnings, err := managedLayer(opts.Managed.Location(), values)
		s.Warnings = append(s.Warnings, warnings...)
		if err != nil {
			problems = append(problems, Problem{Setting: "managed settings", Where: opts.Managed.Location(), Message: err.Error()})
		}
		layers = append(layers, l)
	}

	path, explicit := configPath(opts, getenv)
	s.ConfigFile = path
	data, err := readTrusted(path, maxFileSize)
	switch {
	case errors.Is(err, os.ErrNotExist) && !explicit:
	case err != nil:
		problems = append(problems, Problem{Setting: "config file", Where: path, Message: err.Error()})
	default:
		s.ConfigFileExists = true
		l, err := parseFile(path, data)
		if err != nil {
			problems = append(problems, Problem{Setting: "config file", Where: path, Message: err.Error()})
		}
		layers = append(layers, l)
	}

	pick(&s.CollectorURL, keyCollectorURL, layers, parseText, &problems)
	pick(&s.OwnerEmail, keyOwnerEmail, layers, parseText, &problems)
	pick(&s.User, keyUser, layers, parseText, &problems)
	pick(&s.Interfaces, keyInterfaces, layers, parseInterfaces, &problems)
	pick(&s.FlushInterval, keyFlushInterval, layers, parseDuration, &problems)
	pick(&s.StateDir, keyStateDir, layers, parseText, &problems)
	pick(&s.MemoryLimit, keyMemoryLimit, layers, parseSize, &problems)
	pick(&s.CPUPercent, keyCPUPercent, layers, parsePercent, &problems)
	pick(&s.ResolverMode, keyResolverMode, layers, parseResolverMode, &problems)
	pick(&s.UnknownDomains, keyUnknownDomains, layers, parseBool, &problems)
	pick(&s.OwnDomains, keyOwnDomains, layers, parseDomains, &problems)
	pick(&s.LogLevel, keyLogLevel, layers, parseLogLevel, &problems)
	problems = append(problems, resolveSecret(s, layers, path)...)

	problems = append(problems, validate(s)...)
	sortProblems(problems)
	if len(problems) > 0 {
		return s, problems
	}
	return s, nil
}

// defaults are the settings nobody set. The OS user defaults to the one
// who ran sudo, else the current one, as the agent always did.
func defaults(getenv func(string) string) *Settings {
	s := &Settings{
		FlushInterval:  Setting[time.Duration]{Value: DefaultFlushInterval, Source: SourceDefault},
		StateDir:       Setting[string]{Value: DefaultStateDir(getenv), Source: SourceDefault},
		MemoryLimit:    Setting[int64]{Value: DefaultMemoryLimit, Source: SourceDefault},
		CPUPercent:     Setting[int]{Value: DefaultCPUPercent, Source: SourceDefault},
		ResolverMode:   Setting[ResolverMode]{Value: ResolverOff, Source: SourceDefault},
		UnknownDomains: Setting[bool]{Source: SourceDefault},
		LogLevel:       Setting[slog.Level]{Value: slog.LevelInfo, Source: SourceDefault},
		CollectorURL:   Setting[string]{Source: SourceDefault},
		EnrollSecret:   Setting[Secret]{Source: SourceDefault},
		OwnerEmail:     Setting[string]{Source: SourceDefault},
		User:           Setting[string]{Source: SourceDefault},
		Interfaces:     Setting[[]string]{Source: SourceDefault},
		OwnDomains:     Setting[[]string]{Source: SourceDefault},
	}
	for _, name := range []string{"SUDO_USER", "USER", "USERNAME"} {
		if v := getenv(name); v != "" {
			s.User = Setting[string]{Value: v, Source: SourceDefault, Origin: "from $" + name}
			break
		}
	}
	return s
}

// configPath is the config file to read, and whether someone named it.
func configPath(opts Options, getenv func(string) string) (string, bool) {
	if opts.Flags != nil && opts.Flags.config.set && opts.Flags.config.text != "" {
		return opts.Flags.config.text, true
	}
	if p := getenv(configEnv); p != "" {
		return p, true
	}
	if opts.DefaultConfigPath != "" {
		return opts.DefaultConfigPath, false
	}
	return DefaultConfigPath(getenv), false
}

// pick sets dst from the highest layer that has k. A value that does not
// parse is a problem and leaves dst at its default: the problem says where
// the bad value is.
func pick[T any](dst *Setting[T], k key, layers []layer, parse func(string) (T, error), problems *Problems) {
	for _, l := range layers {
		rv := l.values[k]
		if rv == nil {
			continue
		}
		got := Setting[T]{Source: l.source, Origin: rv.origin}
		v, err := parse(rv.text)
		if err != nil {
			*problems = append(*problems, Problem{Setting: keys[k].label, Where: got.Where(), Message: err.Error()})
			return
		}
		got.Value = v
		*dst = got
		return
	}
}

// resolveSecret takes the enroll secret from the highest layer that gives
// either the secret or a file holding it, reads the file, and warns when
// the file holding the secret is readable by other users.
func resolveSecret(s *Settings, layers []layer, configFile string) Problems {
	for _, l := range layers {
		inline, file := l.values[keyEnrollSecret], l.values[keyEnrollSecretFile]
		switch {
		case inline == nil && file == nil:
			continue
		case inline != nil && file != nil:
			both := Setting[Secret]{Source: l.source, Origin: inline.origin + " and " + file.origin}
			return Problems{{Setting: keys[keyEnrollSecret].label, Where: both.Where(), Message: "give either the secret or a file holding it, not both"}}
		case inline != nil:
			s.EnrollSecret = Setting[Secret]{Value: Secret(inline.text), Source: l.source, Origin: inline.origin}
			if l.source == SourceFile {
				s.Warnings = append(s.Warnings, permWarning(configFile)...)
			}
			return nil
		}
		where := Setting[Secret]{Source: l.source, Origin: file.origin}
		if file.text == "" {
			return Problems{{Setting: keys[keyEnrollSecretFile].label, Where: where.Where(), Message: "is empty"}}
		}
		data, err := readTrusted(file.text, maxSecretSize)
		if err != nil {
			return Problems{{Setting: keys[keyEnrollSecretFile].label, Where: where.Where(), Message: err.Error()}}
		}
		s.EnrollSecret = Setting[Secret]{Value: Secret(strings.TrimSpace(string(data))), Source: l.source, Origin: file.origin + ": " + file.text}
		s.Warnings = append(s.Warnings, permWarning(file.text)...)
		return nil
	}
	return nil
}

// permWarning warns when a file holding the enroll secret can be read by
// group or others. Windows files carry ACLs, not these bits.
func permWarning(path string) []string {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o044 != 0 {
		return []string{fmt.Sprintf("%s holds the enroll secret and other users can read it (mode %04o): make it readable by root only (chmod 600)", path, perm)}
	}
	return nil
}

// readLimited reads a whole file that must not exceed limit bytes. It is
// for files only root can have put there: the macOS managed preferences
// plist lives in /Library/Managed Preferences, which macOS keeps root's and
// only MDM profiles write, so it needs no check of its own.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, limit)
}

// readTrusted is readLimited for a file the agent takes orders from that
// anyone may name: the config file and the enroll secret file. When the
// agent runs privileged (root, SYSTEM, an elevated administrator) such a
// file must be one only those accounts can change (privdir.CheckFile):
// they say where the agent reports everyone's app usage, so a file another
// local user planted or can edit would send it to them. The check is made
// on the opened file, so the file judged is the file read.
func readTrusted(path string, limit int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := privdir.CheckFile(f); err != nil {
		return nil, err
	}
	return readAll(f, limit)
}

// openRegular opens path for reading if it is a regular file. Opening a
// FIFO would block the agent until some process writes to it, and a device
// is no configuration: both are refused before the open.
func openRegular(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return os.Open(path)
}

// readAll reads the rest of f, which must not exceed limit bytes.
func readAll(f *os.File, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Name(), limit)
	}
	return buf.Bytes(), nil
}

// sortProblems puts problems reading the sources first, then the settings
// in the order `status` lists them, so the list reads like the config.
func sortProblems(ps Problems) {
	rank := func(p Problem) int {
		for k := range numKeys {
			if keys[k].label == p.Setting {
				return int(k)
			}
		}
		return -1
	}
	sort.SliceStable(ps, func(i, j int) bool { return rank(ps[i]) < rank(ps[j]) })
}
