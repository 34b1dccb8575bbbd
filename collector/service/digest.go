package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/digest"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
	"github.com/shadowmap/shadowmap/web"
)

// digestDeps is what the digest reads of a collector.
func digestDeps(catalog *signatures.Catalog, store *sqlite.Store, inv *inventory.Inventory) digest.Deps {
	return digest.Deps{Inventory: inv, Sources: store, Devices: store, Grants: store, Invoices: store, Catalog: catalog}
}

// DigestOpener opens the configured collector's store and inventory for
// `shadowmap digest preview|send`.
func DigestOpener(env []string) digest.OpenFunc {
	return func(ctx context.Context, cfgPath string) (digest.Opened, error) {
		cfg, err := loadConfig(cfgPath, "", env)
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

// badWeek is a preview asked for a week that does not parse.
type badWeek struct{ err error }

func (e badWeek) Error() string { return e.err.Error() }
func (e badWeek) BadWeek() bool { return true }

// digestPreview renders the digest for the web view's /digest: the last
// full week in the digest's time zone, or the ISO week asked for. Links
// are the web view's own paths when no base URL is configured.
func digestPreview(cfg config.Config, deps digest.Deps) web.DigestPreviewFunc {
	loc, err := time.LoadLocation(cfg.Digest.TimeZone)
	if err != nil {
		loc = time.UTC // validated at load; a bad zone never gets here
	}
	return func(ctx context.Context, week string) (string, error) {
		now := time.Now()
		w := digest.WeekOf(now.In(loc).AddDate(0, 0, -7), loc)
		if week != "" {
			var err error
			if w, err = digest.ParseISOWeek(week, loc); err != nil {
				return "", badWeek{fmt.Errorf("week %q: %w", week, err)}
			}
		}
		d, err := digest.Build(ctx, deps, w, now)
		if err != nil {
			return "", err
		}
		return d.Message(cfg.Digest.BaseURL, cfg.Digest.Company).HTML, nil
	}
}
