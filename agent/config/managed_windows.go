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
// macOS keys, as REG_SZ or REG_DWORD.
func DefaultManagedStore() ManagedStore { return policyRegistry{} }

type policyRegistry struct{}

func (policyRegistry) Location() string { return `HKLM\` + policyKey }

// Values reads every value under the key; managedLayer maps the names and
// reports the ones it does not know.
func (policyRegistry) Values() (map[string]any, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, policyKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("managed settings HKLM\\%s: %w", policyKey, err)
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, fmt.Errorf("managed settings HKLM\\%s: %w", policyKey, err)
	}
	values := make(map[string]any, len(names))
	for _, name := range names {
		_, typ, err := k.GetValue(name, nil)
		if err != nil {
			return nil, fmt.Errorf("managed settings HKLM\\%s\\%s: %w", policyKey, name, err)
		}
		switch typ {
		case registry.SZ, registry.EXPAND_SZ:
			s, _, err := k.GetStringValue(name)
			if err != nil {
				return nil, fmt.Errorf("managed settings HKLM\\%s\\%s: %w", policyKey, name, err)
			}
			values[name] = s
		case registry.DWORD, registry.QWORD:
			n, _, err := k.GetIntegerValue(name)
			if err != nil {
				return nil, fmt.Errorf("managed settings HKLM\\%s\\%s: %w", policyKey, name, err)
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
