package config

// key names one setting across every source.
type key int

const (
	keyCollectorURL key = iota
	keyEnrollSecret
	keyEnrollSecretFile
	keyOwnerEmail
	keyUser
	keyInterfaces
	keyFlushInterval
	keyStateDir
	keyMemoryLimit
	keyCPUPercent
	keyResolverMode
	keyUnknownDomains
	keyOwnDomains
	keyLogLevel
	numKeys
)

// keyInfo is a setting's name in each source. An empty name means the
// setting cannot come from that source.
type keyInfo struct {
	label string // for people: "collector URL"
	yaml  string
	env   string
	flag  string
	// managed is the MDM key: the plist key in com.shadowmap.agent on
	// macOS, the registry value name under
	// HKLM\SOFTWARE\Policies\Shadowmap\Agent on Windows.
	managed  string
	boolFlag bool
	// list marks a setting that is a list: a YAML sequence, a plist
	// array or a REG_MULTI_SZ, and comma-separated text everywhere.
	list  bool
	usage string
}

// keys is the one table of setting names; it is never modified.
var keys = [numKeys]keyInfo{
	keyCollectorURL: {label: "collector URL", yaml: "collector_url", env: "SHADOWMAP_AGENT_COLLECTOR", flag: "collector",
		// CollectorURL (string): the collector's base URL, for example
		// https://shadowmap.example.com. https is required unless the
		// collector runs on the laptop itself.
		managed: "CollectorURL",
		usage:   "collector URL"},
	keyEnrollSecret: {label: "enroll secret", yaml: "enroll_secret", env: "SHADOWMAP_AGENT_ENROLL_SECRET",
		// EnrollSecret (string): the secret agents enroll with, from the
		// collector's configuration. It has no flag: a command line is
		// visible to every user of the machine.
		managed: "EnrollSecret"},
	keyEnrollSecretFile: {label: "enroll secret file", yaml: "enroll_secret_file", env: "SHADOWMAP_AGENT_ENROLL_SECRET_FILE", flag: "enroll-secret-file",
		usage: "file holding the enroll secret (readable by root only)"},
	keyOwnerEmail: {label: "owner email", yaml: "owner_email", env: "SHADOWMAP_AGENT_OWNER_EMAIL", flag: "owner-email",
		// OwnerEmail (string): the device owner's email; MDM tools can
		// fill it with a variable such as $EMAIL (Jamf Pro, Kandji) or {{mail}} (Intune).
		managed: "OwnerEmail",
		usage:   "the device owner's email, when MDM knows it"},
	keyUser: {label: "OS user", yaml: "user", env: "SHADOWMAP_AGENT_USER", flag: "user",
		usage: "OS account sightings are attributed to (default: the logged-in user)"},
	keyInterfaces: {label: "interfaces", yaml: "interfaces", env: "SHADOWMAP_AGENT_INTERFACES", flag: "interfaces", list: true,
		usage: "comma-separated interfaces to capture on (default: all)"},
	keyFlushInterval: {label: "flush interval", yaml: "flush_interval", env: "SHADOWMAP_AGENT_FLUSH_INTERVAL", flag: "interval",
		// FlushInterval (integer seconds, or a string such as "5m"): how
		// often the agent spools and uploads; at least 10 seconds.
		managed: "FlushInterval",
		usage:   "how often to spool and upload, as 5m or seconds (default 5m)"},
	keyStateDir: {label: "state directory", yaml: "state_dir", env: StateDirEnv, flag: "state-dir",
		usage: "spool, enrollment and status directory"},
	keyMemoryLimit: {label: "memory limit", yaml: "memory_limit", env: "SHADOWMAP_AGENT_MEMORY_LIMIT", flag: "memory-limit",
		usage: "soft heap limit, in bytes or with KiB/MiB/GiB (default 16MiB)"},
	keyCPUPercent: {label: "CPU budget", yaml: "cpu_percent", env: "SHADOWMAP_AGENT_CPU_PERCENT", flag: "cpu-percent",
		usage: "CPU budget in percent of one core (default 5)"},
	keyResolverMode: {label: "resolver mode", yaml: "resolver_mode", env: "SHADOWMAP_AGENT_RESOLVER_MODE", flag: "resolver-mode",
		// ResolverMode (string): "off" (the default) or "forward", to run
		// the local DNS forwarder on hosts where capture is not allowed.
		managed: "ResolverMode",
		usage:   `local DNS forwarder: "off" or "forward" (default off)`},
	keyUnknownDomains: {label: "unknown-domain telemetry", yaml: "unknown_domains", env: "SHADOWMAP_AGENT_UNKNOWN_DOMAINS", flag: "unknown-domains",
		// UnknownDomains (boolean, or integer 0/1 as a REG_DWORD): send
		// registrable domains that matched no app, with counts only. Off
		// by default.
		managed:  "UnknownDomains",
		boolFlag: true,
		usage:    "send unmatched registrable domains with counts (default off)"},
	keyOwnDomains: {label: "own domains", yaml: "own_domains", env: "SHADOWMAP_AGENT_OWN_DOMAINS", flag: "own-domains",
		// OwnDomains (array of strings, a REG_MULTI_SZ, or one
		// comma-separated string): the company's own domains, such as
		// acme.com; unknown-domain telemetry never reports them or any
		// name under them.
		managed: "OwnDomains",
		list:    true,
		usage:   "comma-separated company domains unknown-domain telemetry never reports, with their subdomains"},
	keyLogLevel: {label: "log level", yaml: "log_level", env: "SHADOWMAP_AGENT_LOG_LEVEL", flag: "log-level",
		usage: "debug, info, warn or error (default info)"},
}

// StateDirEnv is the environment variable that gives the state directory:
// service definitions set it, so they name it through this constant.
const StateDirEnv = "SHADOWMAP_AGENT_STATE_DIR"

// configEnv and configFlag name the config file; they are not settings of
// their own since they say where the file source is.
const (
	configEnv  = "SHADOWMAP_AGENT_CONFIG"
	configFlag = "config"
)
