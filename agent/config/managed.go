package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"howett.net/plist"
)

// ManagedStore is where MDM puts the agent's settings on an OS.
type ManagedStore interface {
	// Location names the store for people: a file or a registry key.
	Location() string
	// Values returns the managed values by key name: strings, integers,
	// booleans as the store holds them. A store that does not exist (no
	// profile installed) returns no values and no error.
	Values() (map[string]any, error)
}

// ManagedPlistPath is the file macOS writes for an installed configuration
// profile with a com.shadowmap.agent payload (managed preferences).
const ManagedPlistPath = "/Library/Managed Preferences/com.shadowmap.agent.plist"

// PlistFile is a managed preferences plist, binary or XML.
type PlistFile string

// Location implements ManagedStore.
func (p PlistFile) Location() string { return string(p) }

// Values implements ManagedStore.
func (p PlistFile) Values() (map[string]any, error) {
	data, err := readLimited(string(p), maxFileSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := ParseManagedPlist(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return v, nil
}

// ParseManagedPlist reads a managed preferences plist (binary or XML)
// whose top level is a dictionary.
func ParseManagedPlist(data []byte) (values map[string]any, err error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	// The plist decoder turns its own parse errors into errors but lets
	// runtime errors through; a settings file must never crash the agent.
	defer func() {
		if r := recover(); r != nil {
			values, err = nil, fmt.Errorf("malformed plist (%v)", r)
		}
	}()
	if _, err := plist.Unmarshal(data, &values); err != nil {
		return nil, fmt.Errorf("not a plist dictionary: %w", err)
	}
	return values, nil
}

// managedLayer maps managed values to settings by the MDM key names of the
// keys table (case-insensitively: registry names are). Keys it does not
// know become warnings, since a misspelt key silently does nothing;
// Payload* keys are profile bookkeeping and are ignored.
func managedLayer(location string, values map[string]any) (layer, []string, error) {
	l := layer{source: SourceMDM}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	var warnings, problems []string
	for _, name := range names {
		k, ok := managedKey(name)
		if !ok {
			if !strings.HasPrefix(name, "Payload") {
				warnings = append(warnings, fmt.Sprintf("managed setting %q in %s is not a setting of this agent", name, location))
			}
			continue
		}
		text, err := managedText(values[name], keys[k].list)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		l.set(k, strings.TrimSpace(text), location+" key "+keys[k].managed)
	}
	if len(problems) > 0 {
		return l, warnings, fmt.Errorf("managed settings %s: %s", location, strings.Join(problems, "; "))
	}
	return l, warnings, nil
}

func managedKey(name string) (key, bool) {
	for k := range numKeys {
		if keys[k].managed != "" && strings.EqualFold(keys[k].managed, name) {
			return k, true
		}
	}
	return 0, false
}

// managedText turns a plist or registry value into the text the parsers
// take: strings as they are, integers in decimal (REG_DWORD, plist
// <integer>), booleans as true/false. Where list says so, a plist array
// or a REG_MULTI_SZ of strings is joined with commas, as the config
// file's YAML lists are.
func managedText(v any, list bool) (string, error) {
	switch v := v.(type) {
	case []string:
		if list {
			return joinList(v)
		}
	case []any:
		if list {
			items := make([]string, len(v))
			for i, item := range v {
				s, ok := item.(string)
				if !ok {
					return "", fmt.Errorf("item %d has type %T: give an array of strings", i+1, item)
				}
				items[i] = s
			}
			return joinList(items)
		}
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return "", fmt.Errorf("%v is not a whole number", v)
	}
	if list {
		return "", fmt.Errorf("has type %T: give an array of strings or one comma-separated string", v)
	}
	return "", fmt.Errorf("has type %T: give a string, an integer or a boolean", v)
}

// joinList joins list items with commas; an item holding a comma would
// split in two, so it is refused.
func joinList(items []string) (string, error) {
	trimmed := make([]string, len(items))
	for i, s := range items {
		if strings.Contains(s, ",") {
			return "", fmt.Errorf("item %d %q holds a comma: give one name an item", i+1, s)
		}
		trimmed[i] = strings.TrimSpace(s)
	}
	return strings.Join(trimmed, ","), nil
}
