// Package config gathers the endpoint agent's settings from the places an
// agent on a managed laptop gets them, highest precedence first:
//
//  1. command-line flags (RegisterFlags),
//  2. SHADOWMAP_AGENT_* environment variables (what service definitions set),
//  3. MDM-managed settings: the managed preferences domain
//     com.shadowmap.agent on macOS, HKLM\SOFTWARE\Policies\Shadowmap\Agent
//     on Windows (Intune, GPO); Linux has no such store,
//  4. the YAML config file (DefaultConfigPath, or -config).
//
// Every setting remembers where it came from, so `shadowmap-agent status`
// can say "collector URL from the MDM profile". Load returns every problem
// at once as Problems rather than stopping at the first: the agent starts
// anyway, shows them, and waits for the configuration to be fixed instead
// of crash-looping under its service manager.
//
// The enroll secret never appears in String, logs or JSON: it is a Secret,
// and Settings.Redacted is the form for status output and logs.
package config
