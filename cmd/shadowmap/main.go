// Command shadowmap is the shadowmap server-side tool. Today it works with
// the signature catalog; the collector, importers and digest join it as
// they are built.
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
	os.Exit(cli.Main("shadowmap", os.Stdout, os.Stderr, map[string]cli.Command{
		"signatures": {
			Usage: "signatures lint|stats|match   check, measure and try the app signature catalog",
			Run:   func(args []string) error { return sigcmd.Run(sigcmd.OSEnv(), args) },
		},
		"version": {
			Usage: "version                       print the version",
			Run:   func([]string) error { _, err := fmt.Println("shadowmap", version); return err },
		},
	}, os.Args[1:]))
}
