package config

// DefaultManagedStore is the managed preferences domain com.shadowmap.agent:
// the plist macOS writes when a configuration profile with that payload is
// installed.
func DefaultManagedStore() ManagedStore { return PlistFile(ManagedPlistPath) }
