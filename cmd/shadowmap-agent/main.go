// Command shadowmap-agent is the endpoint agent MDM pushes to laptops. It
// is pure Go (CGO_ENABLED=0) so one source tree cross-builds for macOS,
// Windows and Linux. It embeds the signature catalog so that matching
// happens on the laptop: only matched apps ever leave it.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/shadowmap/shadowmap/signatures/sigcmd"
)

const usage = `usage: shadowmap-agent <command> [arguments]

commands:
  signatures match NAME...     show what the embedded catalog makes of DNS names
  signatures stats [--json]    print the embedded catalog's coverage
  version                      print the version
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "signatures":
		err = sigcmd.Run(sigcmd.OSEnv(), args[1:])
	case "version":
		fmt.Println("shadowmap-agent", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		err = fmt.Errorf("unknown command %q", args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, sigcmd.ErrProblems):
		return 1
	default:
		fmt.Fprintln(os.Stderr, "shadowmap-agent:", err)
		return 1
	}
}
