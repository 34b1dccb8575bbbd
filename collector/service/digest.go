package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/digest"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// digestDeps is what the digest reads of a collector.
func digestDeps(catalog *signatures.Catalog, store *sqlite.Store, inv *inventory.Inventory) digest.Deps {
	return digest.Deps{Inventory: inv, Sources: store, Devices: store, Grants: store, Invoices: store, Catalog: catalog}
}

// DigestOpener opens the configured collector's store and inventory for
// `shadowmap digest preview|send`.
func DigestOpener(env []string) digest.OpenFunc {
	return func(ctx context.Context, cfgPath string) (digest.Opened, error) {
		var args []string
		if cfgPath != "" {
			args = []string{"--config", cfgPath}
		}
		cfg, err := config.Parse(args, env)
		if err != nil {
			return digest.Opened{}, err
		}
		catalog, err := signatures.Embedded()
		if err != nil {
			return digest.Opened{}, err
		}
		store, err := sqlite.Open(ctx, cfg.Database, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return digest.Opened{}, fmt.Errorf("digest: open the database: %w", err)
		}
		inv := inventory.New(catalog, store, store, inventory.Options{KDevices: cfg.UnknownDomainK, Grants: store})
		return digest.Opened{Config: cfg, Deps: digestDeps(catalog, store, inv), Close: store.Close}, nil
	}
}
