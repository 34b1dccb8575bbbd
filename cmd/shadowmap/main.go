// Command shadowmap is the shadowmap server-side tool. Today it works with
// the signature catalog; the collector, importers and digest join it as
// they are built.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/shadowmap/shadowmap/signatures/sigcmd"
)

const usage = `usage: shadowmap <command> [arguments]

commands:
  signatures lint [DIR]          check the app signature catalog
  signatures stats [--json]      print catalog coverage
  signatures match NAME...       show what the catalog makes of DNS names
  version                        print the version
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
		fmt.Println("shadowmap", version)
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
		fmt.Fprintln(os.Stderr, "shadowmap:", err)
		return 1
	}
}
