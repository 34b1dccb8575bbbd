// Command shadowmap is the shadowmap server-side tool. Today it works with
// the signature catalog; the collector, importers and digest join it as
// they are built.
package main

import (
	"os"

	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures/sigcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cli.Main("shadowmap", os.Stdout, os.Stderr, map[string]cli.Command{
		"signatures": sigcmd.Command(sigcmd.OSEnv()),
		"version":    cli.Version(os.Stdout, "shadowmap", version),
	}, os.Args[1:]))
}
