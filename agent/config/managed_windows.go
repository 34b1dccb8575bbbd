package config

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// policyKey is where Intune (ADMX-backed or registry CSP) and Group Policy
// write the agent's settings, under HKEY_LOCAL_MACHINE.
const policyKey = `SOFTWARE\Policies\Shadowmap\Agent`

// DefaultManagedStore is the policy registry key
// HKLM\SOFTWARE\Policies\Shadowmap\Agent, with the same value names as the
// macOS keys, as REG_SZ, REG_DWORD or (for lists) REG_MULTI_SZ.
func DefaultManagedStore() ManagedStore {
	return policyRegistry{root: registry.LOCAL_MACHINE, rootName: "HKLM", path: policyKey}
}

// policyRegistry is a registry key holding managed values. The root is a
// field so tests can use a key under HKEY_CURRENT_USER, which needs no
// administrator.
type policyRegistry struct {
	root     registry.Key
	rootName string
	path     string
}

func (p policyRegistry) Location() string { return p.rootName + `\` + p.path }

// Values reads every value under the key; managedLayer maps the names and
// reports the ones it does not know.
func (p policyRegistry) Values() (map[string]any, error) {
	k, err := registry.OpenKey(p.root, p.path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("managed settings %s: %w", p.Location(), err)
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, fmt.Errorf("managed settings %s: %w", p.Location(), err)
	}
	values := make(map[string]any, len(names))
	for _, name := range names {
		_, typ, err := k.GetValue(name, nil)
		if err != nil {
			return nil, fmt.Errorf("managed settings %s\\%s: %w", p.Location(), name, err)
		}
		switch typ {
		case registry.SZ, registry.EXPAND_SZ:
			s, _, err := k.GetStringValue(name)
			if err != nil {
				return nil, fmt.Errorf("managed settings %s\\%s: %w", p.Location(), name, err)
			}
			values[name] = s
		case registry.MULTI_SZ:
			// managedText takes it only for list settings.
			list, _, err := k.GetStringsValue(name)
			if err != nil {
				return nil, fmt.Errorf("managed settings %s\\%s: %w", p.Location(), name, err)
			}
			values[name] = list
		case registry.DWORD, registry.QWORD:
			n, _, err := k.GetIntegerValue(name)
			if err != nil {
				return nil, fmt.Errorf("managed settings %s\\%s: %w", p.Location(), name, err)
			}
			values[name] = n
		default:
			// managedText reports it as a value of the wrong type.
			values[name] = registryType(typ)
		}
	}
	return values, nil
}

// registryType stands for a value of a type the agent does not read, so
// the shared mapping reports it by its key.
type registryType uint32
