package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/shadowmap/shadowmap/collector"
)

// span is a first-seen/last-seen pair in microseconds.
type span struct{ first, last int64 }

func (s span) widen(o span) span {
	return span{first: min(s.first, o.first), last: max(s.last, o.last)}
}

type pairKey struct{ a, b string }

type sourceTally struct {
	count int64
	span
}

type spendKey struct{ app, month, currency string }

// usageDelta is what some evidence adds to the summary tables. The writer
// folds the deltas of a group's successful requests together and writes
// them once before committing, so fifty batches touching the same popular
// app update its rows once, not fifty times.
type usageDelta struct {
	sources       map[pairKey]sourceTally // app, source
	people        map[pairKey]span        // person, app
	devices       map[pairKey]span        // device, app
	personDevices map[pairKey]span        // person, device
	tenants       map[pairKey]span        // app, tenant
	spend         map[spendKey]int64
}

func newUsageDelta() *usageDelta {
	return &usageDelta{
		sources:       map[pairKey]sourceTally{},
		people:        map[pairKey]span{},
		devices:       map[pairKey]span{},
		personDevices: map[pairKey]span{},
		tenants:       map[pairKey]span{},
		spend:         map[spendKey]int64{},
	}
}

func (d *usageDelta) reset() {
	clear(d.sources)
	clear(d.people)
	clear(d.devices)
	clear(d.personDevices)
	clear(d.tenants)
	clear(d.spend)
}

func widenInto(m map[pairKey]span, k pairKey, s span) {
	if old, ok := m[k]; ok {
		s = old.widen(s)
	}
	m[k] = s
}

func addSource(m map[pairKey]sourceTally, k pairKey, t sourceTally) {
	if old, ok := m[k]; ok {
		t = sourceTally{count: satAdd(old.count, t.count), span: old.widen(t.span)}
	}
	m[k] = t
}

// add counts one evidence row. Only usage evidence counts people and
// devices: an invoice names who paid, not who uses the app.
func (d *usageDelta) add(r *evidenceRow) {
	e := r.ev
	sp := span{first: r.first, last: r.last}
	addSource(d.sources, pairKey{e.AppID, string(e.Source)}, sourceTally{count: r.count, span: sp})
	if r.usage && e.Person != "" {
		widenInto(d.people, pairKey{e.Person, e.AppID}, sp)
	}
	if r.usage && e.DeviceID != "" {
		widenInto(d.devices, pairKey{e.DeviceID, e.AppID}, sp)
	}
	if r.usage && e.Person != "" && e.DeviceID != "" {
		widenInto(d.personDevices, pairKey{e.Person, e.DeviceID}, sp)
	}
	if e.Tenant != "" {
		widenInto(d.tenants, pairKey{e.AppID, e.Tenant}, sp)
	}
	if e.AmountCents != 0 {
		k := spendKey{e.AppID, r.month, e.Currency}
		d.spend[k] = satAdd(d.spend[k], e.AmountCents)
	}
}

// merge adds o to d.
func (d *usageDelta) merge(o *usageDelta) {
	for k, t := range o.sources {
		addSource(d.sources, k, t)
	}
	for _, p := range []struct{ dst, src map[pairKey]span }{
		{d.people, o.people}, {d.devices, o.devices}, {d.personDevices, o.personDevices}, {d.tenants, o.tenants},
	} {
		for k, s := range p.src {
			widenInto(p.dst, k, s)
		}
	}
	for k, c := range o.spend {
		d.spend[k] = satAdd(d.spend[k], c)
	}
}

// flushGroup writes the group's usage delta to the summary tables.
func (w *writeTx) flushGroup() error {
	d := w.group
	for k, t := range d.sources {
		if _, err := w.exec(stAddAppSource, k.a, k.b, t.count, t.first, t.last); err != nil {
			return fmt.Errorf("app_sources: %w", err)
		}
	}
	for _, p := range []struct {
		id stmtID
		m  map[pairKey]span
	}{
		{stAddAppPerson, d.people}, {stAddAppDevice, d.devices}, {stAddPersonDevice, d.personDevices}, {stAddAppTenant, d.tenants},
	} {
		for k, s := range p.m {
			if _, err := w.exec(p.id, k.a, k.b, s.first, s.last); err != nil {
				return fmt.Errorf("statement %d: %w", p.id, err)
			}
		}
	}
	for k, c := range d.spend {
		if _, err := w.exec(stAddAppSpend, k.app, k.month, k.currency, c); err != nil {
			return fmt.Errorf("app_spend: %w", err)
		}
	}
	return nil
}

// AppUsage returns the aggregate evidence of every app with evidence,
// sorted by app id. It reads only the summary tables, in one read
// transaction so the figures agree with each other.
func (s *Store) AppUsage(ctx context.Context) ([]collector.AppUsage, error) {
	tx, err := s.readDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("app usage: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	apps := map[string]*collector.AppUsage{}
	app := func(id string) *collector.AppUsage {
		a := apps[id]
		if a == nil {
			a = &collector.AppUsage{AppID: id, BySource: map[collector.Source]int64{}, SpendCents: map[string]map[string]int64{}}
			apps[id] = a
		}
		return a
	}
	// widen tracks first and last seen per app, from any summary row.
	spans := map[string]span{}
	widen := func(id string, s span) {
		if old, ok := spans[id]; ok {
			s = old.widen(s)
		}
		spans[id] = s
	}

	err = eachRow(ctx, tx, "SELECT app_id, source, count, first_seen, last_seen FROM app_sources", func(rows *sql.Rows) error {
		var (
			id, source string
			count      int64
			sp         span
		)
		if err := rows.Scan(&id, &source, &count, &sp.first, &sp.last); err != nil {
			return err
		}
		app(id).BySource[collector.Source(source)] = count
		widen(id, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: sources: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT app_id, people, devices FROM app_counts", func(rows *sql.Rows) error {
		var (
			id              string
			people, devices int
		)
		if err := rows.Scan(&id, &people, &devices); err != nil {
			return err
		}
		if people > 0 || devices > 0 {
			a := app(id)
			a.People, a.Devices = people, devices
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: counts: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT app_id, tenant, first_seen, last_seen FROM app_tenants ORDER BY app_id, tenant", func(rows *sql.Rows) error {
		var (
			id, tenant string
			sp         span
		)
		if err := rows.Scan(&id, &tenant, &sp.first, &sp.last); err != nil {
			return err
		}
		a := app(id)
		a.Tenants = append(a.Tenants, tenant)
		widen(id, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: tenants: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT app_id, month, currency, cents FROM app_spend", func(rows *sql.Rows) error {
		var (
			id, month, currency string
			cents               int64
		)
		if err := rows.Scan(&id, &month, &currency, &cents); err != nil {
			return err
		}
		a := app(id)
		if a.SpendCents[month] == nil {
			a.SpendCents[month] = map[string]int64{}
		}
		a.SpendCents[month][currency] = cents
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: spend: %w", err)
	}

	out := make([]collector.AppUsage, 0, len(apps))
	for id, a := range apps {
		if sp, ok := spans[id]; ok {
			a.FirstSeen, a.LastSeen = fromMicros(sp.first), fromMicros(sp.last)
		}
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b collector.AppUsage) int { return cmp.Compare(a.AppID, b.AppID) })
	return out, nil
}

// PeopleUsage returns every person with usage evidence, sorted by email,
// with the apps and devices they were seen using (each sorted).
func (s *Store) PeopleUsage(ctx context.Context) ([]collector.PersonUsage, error) {
	tx, err := s.readDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("people usage: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var out []collector.PersonUsage
	index := map[string]int{}
	person := func(email string) *collector.PersonUsage {
		i, ok := index[email]
		if !ok {
			i = len(out)
			index[email] = i
			out = append(out, collector.PersonUsage{Email: email})
		}
		return &out[i]
	}
	spans := map[string]span{}
	widen := func(email string, s span) {
		if old, ok := spans[email]; ok {
			s = old.widen(s)
		}
		spans[email] = s
	}
	// Both tables are keyed person first, so these read in key order.
	err = eachRow(ctx, tx, "SELECT person, app_id, first_seen, last_seen FROM app_people ORDER BY person, app_id", func(rows *sql.Rows) error {
		var (
			email, app string
			sp         span
		)
		if err := rows.Scan(&email, &app, &sp.first, &sp.last); err != nil {
			return err
		}
		p := person(email)
		p.Apps = append(p.Apps, app)
		widen(email, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("people usage: apps: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT person, device_id, first_seen, last_seen FROM person_devices ORDER BY person, device_id", func(rows *sql.Rows) error {
		var (
			email, device string
			sp            span
		)
		if err := rows.Scan(&email, &device, &sp.first, &sp.last); err != nil {
			return err
		}
		p := person(email)
		p.Devices = append(p.Devices, device)
		widen(email, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("people usage: devices: %w", err)
	}
	for i := range out {
		sp := spans[out[i].Email]
		out[i].FirstSeen, out[i].LastSeen = fromMicros(sp.first), fromMicros(sp.last)
	}
	// A person seen only in person_devices (after a purge) sorts in too.
	slices.SortFunc(out, func(a, b collector.PersonUsage) int { return cmp.Compare(a.Email, b.Email) })
	return out, nil
}

// eachRow runs a query in tx and calls scan for every row.
func eachRow(ctx context.Context, tx *sql.Tx, query string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
