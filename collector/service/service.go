// Package service assembles a running collector from its configuration:
// the SQLite store, the embedded catalog, the inventory, the HTTP server and
// the retention job, with graceful shutdown. `shadowmap serve` is a thin
// wrapper around Run.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/digest"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/server"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
	"github.com/shadowmap/shadowmap/web"
)

// Collector is a collector ready to serve.
type Collector struct {
	cfg     config.Config
	log     *slog.Logger
	store   *sqlite.Store
	handler http.Handler
	// imports runs the configured importers inside Serve.
	imports *sources.Scheduler
	// web is the IT web view, for its first-start setup link.
	web *web.Server
	// digest sends the weekly digest inside Serve; nil when it is off.
	digest *digest.Scheduler
}

// New opens the store and builds the server. Close the Collector when Run
// is not used.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Collector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	files, err := bootstrapSecrets(&cfg)
	if err != nil {
		return nil, err
	}
	if files != nil {
		log.Info("no enroll secret or admin token configured: using generated ones (mode 0600)",
			"enroll_secret_file", files[0], "admin_token_file", files[1])
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	catalog, err := signatures.Embedded()
	if err != nil {
		return nil, err
	}
	bundle, etag, err := signatures.Bundle(signatures.EmbeddedFS())
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, cfg.Database, sqlite.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	inv := inventory.New(catalog, store, store, inventory.Options{KDevices: cfg.UnknownDomainK, Grants: store})
	// Built here only to refuse a bad importer configuration at start;
	// the scheduler builds them again each round (importerBuilder).
	if _, err := configuredImporters(cfg.Sources); err != nil {
		store.Close()
		return nil, fmt.Errorf("importers: %w", err)
	}
	webView, err := web.New(web.Options{Catalog: catalog, Inventory: inv, Logger: log, Secure: cfg.TLS.Enabled(),
		Evidence: store, Grants: store, IdPApps: store, Notes: store, Devices: store, SourceHealth: store,
		Settings:      func() web.SettingsView { return web.SettingsFromConfig(cfg) },
		Accounts:      store,
		EnrollSecrets: store, DigestRecipients: store, Retention: store,
		Credentials: store, CredentialsDir: credentialsDir(cfg), CredentialSlots: web.CredentialSlotsFromConfig(cfg),
		Statuses:      store,
		DigestPreview: digestPreview(cfg, digestDeps(catalog, store, inv)),
		OIDC: web.OIDCSettings{Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, ClientSecret: cfg.OIDC.ClientSecret.Reveal(),
			RedirectURL: cfg.OIDC.RedirectURL, AllowedDomains: cfg.OIDC.Domains(), AllowedEmails: cfg.OIDC.Emails(),
			AutoCreateAdmins: cfg.OIDC.AutoCreateAdmins, DisplayName: cfg.OIDC.DisplayName},
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	imports := &sources.Scheduler{
		Runner:     &sources.Runner{Stores: store, Runs: store, Catalog: catalog, Log: log},
		Build:      importerBuilder(cfg.Sources, store, log),
		Interval:   cfg.Sources.Interval,
		FirstDelay: 10 * time.Second,
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	srv := server.New(server.Options{
		Catalog:       catalog,
		CatalogBundle: bundle,
		CatalogETag:   etag,
		Stores:        store,
		Inventory:     inv,
		Ready:         store.Ping,
		EnrollSecrets: secrets(cfg.EnrollSecrets, func(s config.EnrollSecret) server.Secret {
			return server.Secret{Name: s.Name, Value: s.Secret.Reveal(), Revoked: s.Revoked}
		}),
		StoredEnrollSecrets: store,
		AdminTokens: secrets(cfg.AdminTokens, func(t config.AdminToken) server.Secret {
			return server.Secret{Name: t.Name, Value: t.Token.Reveal(), Revoked: t.Revoked}
		}),
		EmailDomain:  cfg.EmailDomain,
		MaxBodyBytes: cfg.Ingest.MaxBodyBytes,
		DeviceRate:   cfg.Ingest.RateLimit,
		DeviceBurst:  cfg.Ingest.Burst,
		Logger:       log,
		Registry:     reg,
		Running:      imports.Running,
		Web:          web.WithTrustedProxies(webView.Handler(), cfg.TrustedProxyPrefixes()),
	})
	c := &Collector{cfg: cfg, log: log, store: store, handler: srv.Handler(), imports: imports, web: webView}
	if cfg.Digest.Enabled {
		c.digest = &digest.Scheduler{
			Config: cfg.Digest, Recipients: store, Log: store, Runs: store,
			Compose: digest.Composer(digestDeps(catalog, store, inv), cfg.Digest.BaseURL, cfg.Digest.Company),
			Logger:  log,
		}
	}
	return c, nil
}

func secrets[T any](in []T, conv func(T) server.Secret) []server.Secret {
	out := make([]server.Secret, 0, len(in))
	for _, v := range in {
		out = append(out, conv(v))
	}
	return out
}

// Handler is the collector's HTTP handler.
func (c *Collector) Handler() http.Handler { return c.handler }

// Store is the collector's store (for backups and tests).
func (c *Collector) Store() *sqlite.Store { return c.store }

// Close releases the store.
func (c *Collector) Close() error { return c.store.Close() }

// Run serves on the configured address until ctx is cancelled, then shuts
// down gracefully: it stops accepting, lets requests in flight finish
// (acknowledged batches are committed before they are acknowledged), and
// closes the store.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	c, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer c.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return c.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled.
func (c *Collector) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           c.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if c.cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(c.cfg.TLS.CertFile, c.cfg.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}

	purgeDone := make(chan struct{})
	purgeCtx, stopPurge := context.WithCancel(ctx)
	go func() {
		defer close(purgeDone)
		c.purgeLoop(purgeCtx)
	}()
	importsDone := make(chan struct{})
	importsCtx, stopImports := context.WithCancel(ctx)
	go func() {
		defer close(importsDone)
		c.imports.Run(importsCtx)
	}()
	// The weekly digest stops with the importers, before the store
	// closes.
	digestDone := make(chan struct{})
	go func() {
		defer close(digestDone)
		if c.digest != nil {
			c.digest.Run(importsCtx)
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	scheme := "http"
	if c.cfg.TLS.Enabled() {
		scheme = "https"
	}
	c.log.Info("collector listening", "addr", ln.Addr().String(), "scheme", scheme, "database", c.store.Path(),
		"importers", c.cfg.Sources.String())
	logSetupLink(ctx, c.log, c.web, scheme, ln.Addr())

	var serveErr error
	select {
	case err := <-errc:
		serveErr = err
	case <-ctx.Done():
		c.log.Info("shutting down", "timeout", c.cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), c.cfg.ShutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			serveErr = fmt.Errorf("shut down: %w", err)
		}
		<-errc
	}
	stopPurge()
	stopImports()
	<-purgeDone
	<-importsDone
	<-digestDone
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// purgeLoop applies the retention policy now and then every interval.
func (c *Collector) purgeLoop(ctx context.Context) {
	interval := c.cfg.Retention.PurgeInterval
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.purge(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Collector) purge(ctx context.Context) {
	now := time.Now().UTC()
	ret, err := c.retention(ctx, now)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.log.Error("retention purge: read the retention set in the web view", "err", err)
		}
		return
	}
	n, err := c.store.PurgeEvidence(ctx, ret)
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		c.log.Error("retention purge failed", "err", err)
	case n > 0:
		c.log.Info("retention purge", "evidence_rows_deleted", n)
	}
}

// retention is what the purge at now deletes: the periods set in the web
// view when there are (checked like the page checks them), else the
// configuration's.
func (c *Collector) retention(ctx context.Context, now time.Time) (collector.Retention, error) {
	o, err := c.store.RetentionOverride(ctx)
	if err != nil {
		return collector.Retention{}, err
	}
	evidence, aggregates, errs := web.EffectiveRetention(c.cfg.Retention.Evidence, c.cfg.Retention.Aggregates, o)
	if len(errs) > 0 {
		c.log.Warn("retention set in the web view is invalid; using the configuration's", "problems", errs)
	}
	return collector.Retention{
		Evidence:   evidence.Cutoff(now),
		Aggregates: aggregates.Cutoff(now),
		// A batch older than this cannot be sent again (the API refuses
		// sightings that old), so its idempotency record can go.
		Batches: now.Add(-api.MaxSightingAge - 24*time.Hour),
	}, nil
}
