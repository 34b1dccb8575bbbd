package dnsconfig

// ForOS returns the backend for this operating system.
func ForOS() (System, error) {
	return NetworkSetup{Runner: ExecRunner{}}, nil
}
