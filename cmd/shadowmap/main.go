// Command shadowmap is the shadowmap server: the collector (`serve`), its
// importers run by hand (`import`), its backup, and the signature catalog
// tools.
package main

import (
	"os"

	"github.com/shadowmap/shadowmap/collector/bench"
	"github.com/shadowmap/shadowmap/collector/digest"
	"github.com/shadowmap/shadowmap/collector/service"
	"github.com/shadowmap/shadowmap/collector/sources/mailbox/classify"
	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/internal/demo"
	"github.com/shadowmap/shadowmap/signatures/sigcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	env := os.Environ()
	os.Exit(cli.Main("shadowmap", os.Stdout, os.Stderr, map[string]cli.Command{
		"serve":      service.ServeCommand(os.Stderr, env),
		"backup":     service.BackupCommand(os.Stdout, os.Stderr, env),
		"import":     service.ImportCommand(os.Stdout, os.Stderr, env),
		"admin":      service.AdminCommand(os.Stdin, os.Stdout, os.Stderr, env),
		"demo":       demo.Command(os.Stdout, os.Stderr),
		"digest":     digest.Command(digest.CommandEnv{Stdout: os.Stdout, Stderr: os.Stderr, Open: service.DigestOpener(env)}),
		"mail":       classify.Command(os.Stdout, os.Stderr),
		"bench":      bench.Command(os.Stdout, os.Stderr),
		"signatures": sigcmd.Command(sigcmd.OSEnv()),
		"version":    cli.Version(os.Stdout, "shadowmap", version),
	}, os.Args[1:]))
}
