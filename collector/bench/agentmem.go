package bench

import (
	"time"
)

// AgentOptions configure the agent benchmark: a real shadowmap-agent
// process capturing on loopback while DNS lookups arrive at a steady rate.
type AgentOptions struct {
	// AgentBinary is the shadowmap-agent executable to run.
	AgentBinary string
	// Duration is how long lookups are sent.
	Duration time.Duration
	// Rate is lookups per second.
	Rate int
	// Interval is the agent's spool and upload interval.
	Interval time.Duration
	// DNSAddr is the loopback address the lookups go to, on port 53
	// (what the capture filter keeps). Nothing needs to answer.
	DNSAddr string
	// Progress, when set, gets a line every ten seconds.
	Progress func(AgentSample)
}

// AgentSample is one reading of the agent process.
type AgentSample struct {
	Elapsed time.Duration `json:"elapsed"`
	RSSKiB  int64         `json:"rss_kib"`
	HWMKiB  int64         `json:"hwm_kib"`
	CPU     time.Duration `json:"cpu"`
	Sent    int64         `json:"lookups_sent"`
}

// AgentResult is what the agent benchmark measured.
type AgentResult struct {
	Duration    time.Duration `json:"duration"`
	LookupsSent int64         `json:"lookups_sent"`
	// RSSKiB is the agent's resident memory at the end; PeakRSSKiB the
	// largest reading after the first minute, and HWMKiB the kernel's
	// high-water mark over the whole run, start-up included.
	RSSKiB     int64 `json:"rss_kib"`
	PeakRSSKiB int64 `json:"peak_rss_kib_after_1m"`
	HWMKiB     int64 `json:"hwm_kib"`
	// CPUShare is the agent's CPU time over the run's wall time, as a
	// share of one core.
	CPUShare float64 `json:"cpu_share"`
	// AppsInInventory are the apps the collector shows from this agent,
	// and Unexpected those it shows that the bench never looked up
	// (other lookups on this machine's loopback).
	AppsInInventory int `json:"apps_in_inventory"`
	AppsLookedUp    int `json:"apps_looked_up"`
}
