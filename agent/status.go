package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/config"
)

// statusFile is where a running agent leaves its health for `status`.
const statusFile = "status.json"

// Status is the agent's health as a person at the laptop sees it.
type Status struct {
	Collector    string          `json:"collector"`
	Updated      time.Time       `json:"updated"`
	LastFlush    time.Time       `json:"last_flush"`
	SpoolBatches int64           `json:"spool_batches"`
	SpoolBytes   int64           `json:"spool_bytes"`
	Dropped      uint64          `json:"names_dropped"`
	Matching     aggregate.Stats `json:"matching"`
	Capture      SourceHealth    `json:"capture"`
	// AppsToday are the apps seen today, by name: what will be reported.
	AppsToday []string `json:"apps_today"`
	LastError string   `json:"last_error,omitempty"`
	// ConfigProblems are why the agent is waiting instead of running:
	// its settings are missing or wrong.
	ConfigProblems []string `json:"config_problems,omitempty"`
	// Settings are the settings in use, redacted, with where each came
	// from.
	Settings []config.Entry `json:"settings,omitempty"`
}

// writeStatus saves st atomically in the state directory, readable by the
// agent's user only: app names are about a person.
func writeStatus(dir string, st Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, statusFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, statusFile))
}

// ReadStatus reads what the running agent last saved.
func ReadStatus(stateDir string) (Status, error) {
	var st Status
	b, err := os.ReadFile(filepath.Join(stateDir, statusFile))
	if err != nil {
		return st, fmt.Errorf("read agent status (is the agent running?): %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read agent status: %w", err)
	}
	return st, nil
}

// PrintStatus writes the status for a person.
func PrintStatus(w io.Writer, st Status, now time.Time) {
	if len(st.ConfigProblems) > 0 {
		fmt.Fprintf(w, "NOT RUNNING: the agent's settings need fixing (it checks again every minute):\n")
		for _, p := range st.ConfigProblems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
	fmt.Fprintf(w, "collector        %s\n", st.Collector)
	fmt.Fprintf(w, "last update      %s (%s ago)\n", st.Updated.Format(time.RFC3339), now.Sub(st.Updated).Round(time.Second))
	if c := st.Capture; c.State != "" {
		fmt.Fprintf(w, "capture          %s on %s: %d packets, %d dropped by the system\n", c.State, ifaceList(c.Interfaces), c.Packets, c.Drops)
		if c.LastError != "" {
			fmt.Fprintf(w, "capture error    %s\n", c.LastError)
		}
	}
	fmt.Fprintf(w, "waiting to send  %d batches (%d bytes)\n", st.SpoolBatches, st.SpoolBytes)
	fmt.Fprintf(w, "names seen       %d (%d matched an app; the rest were dropped here and never sent)\n", st.Matching.Names, st.Matching.Matched)
	if st.Dropped > 0 {
		fmt.Fprintf(w, "names skipped    %d (the agent was busy)\n", st.Dropped)
	}
	apps := append([]string(nil), st.AppsToday...)
	sort.Strings(apps)
	fmt.Fprintf(w, "apps today       %d\n", len(apps))
	for _, a := range apps {
		fmt.Fprintf(w, "  %s\n", a)
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "last error       %s\n", st.LastError)
	}
}

func ifaceList(names []string) string {
	if len(names) == 0 {
		return "no interface"
	}
	return strings.Join(names, ", ")
}
