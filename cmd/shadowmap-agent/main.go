// Command shadowmap-agent is the endpoint agent MDM pushes to laptops. It
// is pure Go (CGO_ENABLED=0) so one source tree cross-builds for macOS,
// Windows and Linux. It embeds the signature catalog so that matching
// happens on the laptop: only matched apps ever leave it. Live capture and
// the service arrive with the rest of the agent issue; today it replays
// captures through the same pipeline and tries names against its catalog.
package main

import (
	"os"

	"github.com/shadowmap/shadowmap/agent"
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
		"signatures": sigcmd.Command(sigcmd.OSEnv()),
		"version":    cli.Version(os.Stdout, "shadowmap-agent", version),
	}, os.Args[1:]))
}
