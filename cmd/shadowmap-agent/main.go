// Command shadowmap-agent is the endpoint agent MDM pushes to laptops. It
// is pure Go (CGO_ENABLED=0) so one source tree cross-builds for macOS,
// Windows and Linux. It embeds the signature catalog so that matching
// happens on the laptop: only matched apps ever leave it.
package main

import (
	"fmt"
	"os"

	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures/sigcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cli.Main("shadowmap-agent", os.Stdout, os.Stderr, map[string]cli.Command{
		"signatures": {
			Usage: "signatures match|stats   try names against the embedded catalog, print its coverage",
			Run:   func(args []string) error { return sigcmd.Run(sigcmd.OSEnv(), args) },
		},
		"version": {
			Usage: "version                  print the version",
			Run:   func([]string) error { _, err := fmt.Println("shadowmap-agent", version); return err },
		},
	}, os.Args[1:]))
}
