// Command shadowmap-packager builds the agent's packages on Linux, for
// every OS MDM deploys it to: .deb and .rpm, a Windows .msi, a macOS .pkg,
// and the macOS configuration profile that carries a company's settings.
// `make packages` runs it.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/shadowmap/shadowmap/installer/pkgcmd"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main("shadowmap-packager", os.Stdout, os.Stderr, map[string]cli.Command{
		"build":        pkgcmd.BuildCommand(ctx, os.Stdout, version),
		"mobileconfig": pkgcmd.MobileConfigCommand(os.Stdout),
		"universal":    pkgcmd.UniversalCommand(),
		"version":      cli.Version(os.Stdout, "shadowmap-packager", version),
	}, os.Args[1:])
	stop()
	os.Exit(code)
}
