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

// interner hands out one string per distinct value read, so the few
// thousand app ids (and the months and currencies) in a result are not
// allocated again for every row. Looking up string(b) in a map does not
// allocate.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
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

	type appAcc struct {
		usage collector.AppUsage
		span  span
		seen  bool // span holds a value
	}
	names := interner{}
	apps := map[string]*appAcc{}
	app := func(raw []byte) *appAcc {
		if a, ok := apps[string(raw)]; ok {
			return a
		}
		id := names.get(raw)
		a := &appAcc{usage: collector.AppUsage{AppID: id, BySource: map[collector.Source]int64{}, SpendCents: map[string]map[string]int64{}}}
		apps[id] = a
		return a
	}
	widen := func(a *appAcc, sp span) {
		if a.seen {
			sp = a.span.widen(sp)
		}
		a.span, a.seen = sp, true
	}

	var id, text1, text2 sql.RawBytes
	err = eachRow(ctx, tx, "SELECT app_id, source, count, first_seen, last_seen FROM app_sources", func(rows *sql.Rows) error {
		var (
			count int64
			sp    span
		)
		if err := rows.Scan(&id, &text1, &count, &sp.first, &sp.last); err != nil {
			return err
		}
		a := app(id)
		a.usage.BySource[collector.Source(names.get(text1))] = count
		widen(a, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: sources: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT app_id, people, devices FROM app_counts WHERE people > 0 OR devices > 0", func(rows *sql.Rows) error {
		var people, devices int
		if err := rows.Scan(&id, &people, &devices); err != nil {
			return err
		}
		a := app(id)
		a.usage.People, a.usage.Devices = people, devices
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: counts: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT app_id, tenant, first_seen, last_seen FROM app_tenants ORDER BY app_id, tenant", func(rows *sql.Rows) error {
		var sp span
		if err := rows.Scan(&id, &text1, &sp.first, &sp.last); err != nil {
			return err
		}
		a := app(id)
		a.usage.Tenants = append(a.usage.Tenants, string(text1))
		widen(a, sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: tenants: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT app_id, month, currency, cents FROM app_spend", func(rows *sql.Rows) error {
		var cents int64
		if err := rows.Scan(&id, &text1, &text2, &cents); err != nil {
			return err
		}
		spend := app(id).usage.SpendCents
		month := names.get(text1)
		if spend[month] == nil {
			spend[month] = map[string]int64{}
		}
		spend[month][names.get(text2)] = cents
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app usage: spend: %w", err)
	}

	out := make([]collector.AppUsage, 0, len(apps))
	for _, a := range apps {
		if a.seen {
			a.usage.FirstSeen, a.usage.LastSeen = fromMicros(a.span.first), fromMicros(a.span.last)
		}
		out = append(out, a.usage)
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

	var (
		out   []collector.PersonUsage
		spans []span
		names = interner{}
		index = map[string]int{}
	)
	// person returns the index of the person with this email, adding
	// them if new. Rows come sorted by person, so the last one is checked
	// first.
	person := func(email []byte, sp span) int {
		i := len(out) - 1
		if i < 0 || out[i].Email != string(email) {
			var ok bool
			if i, ok = index[string(email)]; !ok {
				i = len(out)
				e := string(email)
				index[e] = i
				out = append(out, collector.PersonUsage{Email: e})
				spans = append(spans, sp)
			}
		}
		spans[i] = spans[i].widen(sp)
		return i
	}
	var email, other sql.RawBytes
	err = eachRow(ctx, tx, "SELECT person, app_id, first_seen, last_seen FROM app_people ORDER BY person, app_id", func(rows *sql.Rows) error {
		var sp span
		if err := rows.Scan(&email, &other, &sp.first, &sp.last); err != nil {
			return err
		}
		p := &out[person(email, sp)]
		p.Apps = append(p.Apps, names.get(other))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("people usage: apps: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT person, device_id, first_seen, last_seen FROM person_devices ORDER BY person, device_id", func(rows *sql.Rows) error {
		var sp span
		if err := rows.Scan(&email, &other, &sp.first, &sp.last); err != nil {
			return err
		}
		p := &out[person(email, sp)]
		p.Devices = append(p.Devices, string(other))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("people usage: devices: %w", err)
	}
	for i := range out {
		out[i].FirstSeen, out[i].LastSeen = fromMicros(spans[i].first), fromMicros(spans[i].last)
	}
	// A person seen only in person_devices (after a purge) was appended
	// at the end.
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
