//go:build !darwin && !windows

package config

// DefaultManagedStore is nil: Linux has no MDM settings store, so its
// agents read only the config file, the environment and flags.
func DefaultManagedStore() ManagedStore { return nil }
