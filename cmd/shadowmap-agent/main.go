// Command shadowmap-agent is the endpoint agent MDM pushes to laptops. It
// is pure Go (CGO_ENABLED=0) so one source tree cross-builds for macOS,
// Windows and Linux. It embeds the signature catalog so that matching
// happens on the laptop: only matched apps ever leave it. It runs as an
// OS service (launchd, systemd, the Windows service manager), or in the
// foreground with `run`; `replay` checks a capture file with the same
// pipeline.
package main

import (
	"os"

	"github.com/shadowmap/shadowmap/agent"
	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures/sigcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cli.Main("shadowmap-agent", os.Stdout, os.Stderr, map[string]cli.Command{
		"replay":     agent.ReplayCommand(os.Stdout, os.Stderr),
		"run":        agent.RunCommand(os.Stderr, os.Getenv, version),
		"status":     agent.StatusCommand(os.Stdout, os.Stderr),
		"service":    service.Command(os.Stdout, os.Stderr, agent.DefaultStateDir()),
		"signatures": sigcmd.Command(sigcmd.OSEnv()),
		"version":    cli.Version(os.Stdout, "shadowmap-agent", version),
	}, os.Args[1:]))
}
