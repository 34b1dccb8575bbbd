// Package storetest holds the contract tests every collector store must
// pass, whatever it is built on. A store package calls Run from its own
// tests with a function that opens a fresh, empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Stores {
//			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.Options{})
//			...
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The tests use times with whole seconds, so a store may keep microseconds
// (SQLite here, PostgreSQL) and still pass. They check what the store
// interfaces in package collector promise, plus these rules every store
// keeps:
//   - IngestBatch needs an enrolled device: an unknown one is ErrNotFound.
//   - Evidence with an empty AppID or DedupeKey is refused with an error,
//     and the whole IngestBatch or AddEvidence call stores nothing.
//   - Merged counts and amounts saturate at the int64 limits.
//   - A device's LastSeenAt never moves backwards.
//   - ListDevices is sorted by id; ListEvidence returns the newest day first;
//     StatusHistory is oldest first.
//   - SetStatus refuses an unknown status and an empty app id.
//   - An unknown-domain count with an empty domain or a day that is not
//     YYYY-MM-DD fails the whole IngestBatch; domains are stored
//     lowercase without a trailing dot.
package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// Stores is everything a collector store implements.
type Stores interface {
	collector.DeviceStore
	collector.EvidenceStore
	collector.UsageStore
	collector.AppStateStore
	collector.UnknownDomainStore
	collector.CheckpointStore
	collector.SourceRunStore
	collector.IdPAppStore
	collector.GrantStore
	collector.AccountStore
	collector.AppNoteStore
	collector.EnrollSecretStore
	collector.DigestRecipientsStore
	collector.RetentionStore
	collector.CredentialStore
	collector.DigestLogStore
}

// Run runs every contract test, each on a fresh store from open. open must
// register its own cleanup (t.Cleanup) and fail the test if it cannot open.
func Run(t *testing.T, open func(t *testing.T) Stores) {
	tests := []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) Stores)
	}{
		{"Devices", testDevices},
		{"RevokeDevice", testRevokeDevice},
		{"Heartbeat", testHeartbeat},
		{"NotFound", testNotFound},
		{"IngestBatch", testIngestBatch},
		{"IngestBatchAtomic", testIngestBatchAtomic},
		{"DuplicateBatch", testDuplicateBatch},
		{"MergeByDedupeKey", testMergeByDedupeKey},
		{"AddEvidence", testAddEvidence},
		{"ListEvidence", testListEvidence},
		{"AppUsage", testAppUsage},
		{"PeopleUsage", testPeopleUsage},
		{"Status", testStatus},
		{"InsideIdP", testInsideIdP},
		{"Purge", testPurge},
		{"PurgeWindows", testPurgeWindows},
		{"OddValues", testOddValues},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentIngest", testConcurrentIngest},
		{"ConcurrentDuplicateBatch", testConcurrentDuplicateBatch},
		{"UnknownDomains", testUnknownDomains},
		{"UnknownDomainsAtomic", testUnknownDomainsAtomic},
		{"UnknownDomainsPurge", testUnknownDomainsPurge},
		{"Checkpoints", testCheckpoints},
		{"SourceRuns", testSourceRuns},
		{"IdPApps", testIdPApps},
		{"Grants", testGrants},
		{"Accounts", testAccounts},
		{"AccountAdmin", testAccountAdmin},
		{"Sessions", testSessions},
		{"SetupToken", testSetupToken},
		{"AppNotes", testAppNotes},
		{"EnrollSecrets", testEnrollSecrets},
		{"DigestRecipients", testDigestRecipients},
		{"RetentionOverride", testRetentionOverride},
		{"CredentialOverrides", testCredentialOverrides},
		{"DigestLog", testDigestLog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open)
		})
	}
}

// t0 is the fixtures' "now": a Monday morning.
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func at(hours int) time.Time { return t0.Add(time.Duration(hours) * time.Hour) }

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func tokenHash(deviceID string) []byte {
	h := sha256.Sum256([]byte("token of " + deviceID))
	return h[:]
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// enroll creates a device with the given id and owner.
func enroll(t *testing.T, s Stores, id, owner string) collector.Device {
	t.Helper()
	d := collector.Device{
		ID: id, Hostname: id + ".local", OS: "darwin", OSVersion: "15.1", Arch: "arm64",
		AgentVersion: "1.0.0", OwnerEmail: owner, LastUser: "user", EnrollSecret: "mdm-2026",
		EnrolledAt: t0.Add(-24 * time.Hour),
	}
	must(t, s.CreateDevice(context.Background(), d, tokenHash(id)), "create device "+id)
	return d
}

// sighting is an agent evidence row; its dedupe key names the daily
// aggregate, as the server builds it.
func sighting(app string, source collector.Source, person, device, tenant string, first, last time.Time, count int64) collector.Evidence {
	return collector.Evidence{
		AppID: app, Source: source, Person: person, DeviceID: device, Day: day(first),
		FirstSeen: first, LastSeen: last, Count: count, Domain: app + ".com", Tenant: tenant,
		DedupeKey: strings.Join([]string{"agent", device, app, tenant, person, day(first), string(source)}, "|"),
	}
}

// event is an importer evidence row (one event, count 1).
func event(app string, source collector.Source, person string, when time.Time, key string) collector.Evidence {
	return collector.Evidence{
		AppID: app, Source: source, Person: person, Day: day(when),
		FirstSeen: when, LastSeen: when, Count: 1, Domain: app + ".com", DedupeKey: key,
	}
}

func ingest(t *testing.T, s Stores, device, batchID string, received time.Time, ev ...collector.Evidence) {
	t.Helper()
	dup, err := s.IngestBatch(context.Background(), collector.Batch{
		DeviceID: device, BatchID: batchID, AgentVersion: "1.0.0", ReceivedAt: received, Evidence: ev,
	})
	must(t, err, "ingest "+batchID)
	if dup {
		t.Fatalf("ingest %s: reported duplicate", batchID)
	}
}

// listAll returns every evidence row, sorted by dedupe key.
func listAll(t *testing.T, s Stores) []collector.Evidence {
	t.Helper()
	ev, err := s.ListEvidence(context.Background(), collector.EvidenceFilter{Limit: 10000})
	must(t, err, "list evidence")
	slices.SortFunc(ev, func(a, b collector.Evidence) int { return cmp.Compare(a.DedupeKey, b.DedupeKey) })
	return normEvidence(ev)
}

func normEvidence(ev []collector.Evidence) []collector.Evidence {
	out := make([]collector.Evidence, len(ev))
	for i, e := range ev {
		e.FirstSeen, e.LastSeen = e.FirstSeen.UTC(), e.LastSeen.UTC()
		out[i] = e
	}
	return out
}

func sortedEvidence(ev ...collector.Evidence) []collector.Evidence {
	out := normEvidence(ev)
	slices.SortFunc(out, func(a, b collector.Evidence) int { return cmp.Compare(a.DedupeKey, b.DedupeKey) })
	return out
}

func normDevice(d collector.Device) collector.Device {
	d.EnrolledAt, d.LastSeenAt, d.Health.ReportedAt = d.EnrolledAt.UTC(), d.LastSeenAt.UTC(), d.Health.ReportedAt.UTC()
	return d
}

// diff fails the test when got and want differ.
func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func testDevices(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	d1 := collector.Device{
		ID: "dev-1", Hostname: "alice-mbp", OS: "darwin", OSVersion: "15.1", Arch: "arm64", AgentVersion: "1.2.0",
		OwnerEmail: "alice@example.com", LastUser: "alice", EnrollSecret: "mdm-2026",
		EnrolledAt: at(-48), LastSeenAt: at(-47),
		Health: collector.Health{
			CaptureState: "running", PacketsSeen: math.MaxUint64, Drops: 1 << 63, SpoolDepth: 12,
			AgentVersion: "1.2.0", LastError: "none", ReportedAt: at(-47),
		},
	}
	d2 := collector.Device{ID: "dev-0", Hostname: "bob-pc", OS: "windows", EnrolledAt: at(-1)}
	must(t, s.CreateDevice(ctx, d1, tokenHash("dev-1")), "create dev-1")
	must(t, s.CreateDevice(ctx, d2, tokenHash("dev-0")), "create dev-0")

	got, err := s.Device(ctx, "dev-1")
	must(t, err, "device dev-1")
	diff(t, "Device(dev-1)", normDevice(got), normDevice(d1))
	got, err = s.DeviceByTokenHash(ctx, tokenHash("dev-1"))
	must(t, err, "device by token")
	diff(t, "DeviceByTokenHash(dev-1)", normDevice(got), normDevice(d1))

	list, err := s.ListDevices(ctx)
	must(t, err, "list devices")
	if len(list) != 2 || list[0].ID != "dev-0" || list[1].ID != "dev-1" {
		t.Fatalf("ListDevices = %+v, want dev-0 then dev-1", list)
	}
	diff(t, "ListDevices[0]", normDevice(list[0]), normDevice(d2))

	bad := []struct {
		name string
		d    collector.Device
		hash []byte
	}{
		{"same id", collector.Device{ID: "dev-1"}, tokenHash("other")},
		{"same token", collector.Device{ID: "dev-2"}, tokenHash("dev-1")},
		{"empty id", collector.Device{}, tokenHash("dev-3")},
		{"empty token hash", collector.Device{ID: "dev-4"}, nil},
	}
	for _, tc := range bad {
		if err := s.CreateDevice(ctx, tc.d, tc.hash); err == nil {
			t.Errorf("CreateDevice with %s: no error", tc.name)
		}
	}
	list, err = s.ListDevices(ctx)
	must(t, err, "list devices")
	if len(list) != 2 {
		t.Errorf("after refused creates: %d devices, want 2", len(list))
	}
}

func testRevokeDevice(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "")
	enroll(t, s, "dev-2", "")
	must(t, s.RevokeDevice(ctx, "dev-1"), "revoke")
	must(t, s.RevokeDevice(ctx, "dev-1"), "revoke again")

	d, err := s.DeviceByTokenHash(ctx, tokenHash("dev-1"))
	must(t, err, "revoked device by token")
	if !d.Revoked {
		t.Error("DeviceByTokenHash of a revoked device: Revoked = false")
	}
	d, err = s.Device(ctx, "dev-2")
	must(t, err, "device dev-2")
	if d.Revoked {
		t.Error("revoking dev-1 revoked dev-2")
	}
}

func testHeartbeat(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "")
	h := collector.Health{
		CaptureState: "degraded", PacketsSeen: 1 << 40, Drops: math.MaxUint64, SpoolDepth: 99,
		AgentVersion: "1.3.0", LastError: "npcap: adapter gone", Interfaces: []string{"en0", "utun3"}, ReportedAt: at(2),
	}
	must(t, s.RecordHeartbeat(ctx, "dev-1", h), "heartbeat")
	d, err := s.Device(ctx, "dev-1")
	must(t, err, "device")
	d = normDevice(d)
	diff(t, "Health", d.Health, h)
	if !d.LastSeenAt.Equal(at(2)) {
		t.Errorf("LastSeenAt = %v, want %v", d.LastSeenAt, at(2))
	}
	if d.AgentVersion != "1.3.0" {
		t.Errorf("AgentVersion = %q, want the heartbeat's 1.3.0", d.AgentVersion)
	}

	// A late, older report does not move LastSeenAt back.
	old := h
	old.ReportedAt = at(1)
	must(t, s.RecordHeartbeat(ctx, "dev-1", old), "older heartbeat")
	d, err = s.Device(ctx, "dev-1")
	must(t, err, "device")
	if !d.LastSeenAt.Equal(at(2)) {
		t.Errorf("LastSeenAt after an older heartbeat = %v, want %v", d.LastSeenAt, at(2))
	}
}

func testNotFound(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "")
	calls := []struct {
		name string
		call func() error
	}{
		{"Device", func() error { _, err := s.Device(ctx, "nope"); return err }},
		{"DeviceByTokenHash", func() error { _, err := s.DeviceByTokenHash(ctx, tokenHash("nope")); return err }},
		{"RecordHeartbeat", func() error { return s.RecordHeartbeat(ctx, "nope", collector.Health{ReportedAt: t0}) }},
		{"RevokeDevice", func() error { return s.RevokeDevice(ctx, "nope") }},
		{"IngestBatch of an unknown device", func() error {
			_, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "nope", BatchID: "b1", ReceivedAt: t0,
				Evidence: []collector.Evidence{sighting("slack", collector.SourceDNS, "", "nope", "", at(0), at(1), 1)}})
			return err
		}},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, collector.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
		}
	}
	if ev := listAll(t, s); len(ev) != 0 {
		t.Errorf("evidence of an unknown device was stored: %+v", ev)
	}
}

func testIngestBatch(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "alice@example.com")
	ev := []collector.Evidence{
		sighting("slack", collector.SourceDNS, "alice@example.com", "dev-1", "acme", at(0), at(3), 40),
		sighting("slack", collector.SourceSNI, "alice@example.com", "dev-1", "acme", at(1), at(2), 7),
		sighting("notion", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(0), 1),
	}
	dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-1", AgentVersion: "1.0.0", ReceivedAt: at(4), Evidence: ev})
	must(t, err, "ingest")
	if dup {
		t.Fatal("first ingest reported duplicate")
	}
	diff(t, "stored evidence", listAll(t, s), sortedEvidence(ev...))

	d, err := s.Device(ctx, "dev-1")
	must(t, err, "device")
	if !d.LastSeenAt.Equal(at(4)) {
		t.Errorf("device LastSeenAt = %v, want the batch's ReceivedAt %v", d.LastSeenAt, at(4))
	}

	// An empty batch is a batch too.
	dup, err = s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-empty", ReceivedAt: at(5)})
	must(t, err, "ingest empty batch")
	if dup {
		t.Error("empty batch reported duplicate")
	}
}

func testIngestBatchAtomic(t *testing.T, open func(t *testing.T) Stores) {
	good := func() []collector.Evidence {
		return []collector.Evidence{
			sighting("slack", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(1), 3),
			sighting("zoom", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(1), 2),
			sighting("figma", collector.SourceSNI, "alice@example.com", "dev-1", "", at(0), at(1), 1),
		}
	}
	cases := []struct {
		name  string
		batch func() collector.Batch
	}{
		{"row without app id", func() collector.Batch {
			ev := good()
			ev[1].AppID = ""
			return collector.Batch{DeviceID: "dev-1", BatchID: "b-1", ReceivedAt: at(2), Evidence: ev}
		}},
		{"row without dedupe key", func() collector.Batch {
			ev := good()
			ev[2].DedupeKey = ""
			return collector.Batch{DeviceID: "dev-1", BatchID: "b-1", ReceivedAt: at(2), Evidence: ev}
		}},
		{"no batch id", func() collector.Batch {
			return collector.Batch{DeviceID: "dev-1", ReceivedAt: at(2), Evidence: good()}
		}},
		{"no device id", func() collector.Batch {
			return collector.Batch{BatchID: "b-1", ReceivedAt: at(2), Evidence: good()}
		}},
		{"unknown device", func() collector.Batch {
			return collector.Batch{DeviceID: "dev-9", BatchID: "b-1", ReceivedAt: at(2), Evidence: good()}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			enroll(t, s, "dev-1", "")
			if _, err := s.IngestBatch(ctx, tc.batch()); err == nil {
				t.Fatal("IngestBatch: no error")
			}
			if ev := listAll(t, s); len(ev) != 0 {
				t.Errorf("a refused batch stored evidence: %+v", ev)
			}
			usage, err := s.AppUsage(ctx)
			must(t, err, "app usage")
			if len(usage) != 0 {
				t.Errorf("a refused batch changed the usage summary: %+v", usage)
			}
			// The refused batch did not use up its id.
			ingest(t, s, "dev-1", "b-1", at(2), good()...)
			if ev := listAll(t, s); len(ev) != 3 {
				t.Errorf("after the corrected batch: %d rows, want 3", len(ev))
			}
		})
	}
}

func testDuplicateBatch(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "alice@example.com")
	enroll(t, s, "dev-2", "bob@example.com")
	first := sighting("slack", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(1), 5)
	ingest(t, s, "dev-1", "b-1", at(2), first)
	before, err := s.AppUsage(ctx)
	must(t, err, "app usage")

	replay := first
	replay.Count = 100
	other := sighting("zoom", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(1), 5)
	dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-1", ReceivedAt: at(3),
		Evidence: []collector.Evidence{replay, other}})
	must(t, err, "replay")
	if !dup {
		t.Fatal("replayed batch not reported as duplicate")
	}
	diff(t, "evidence after the replay", listAll(t, s), sortedEvidence(first))
	after, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	diff(t, "usage after the replay", normUsage(after), normUsage(before))
	d, err := s.Device(ctx, "dev-1")
	must(t, err, "device")
	if !d.LastSeenAt.Equal(at(2)) {
		t.Errorf("a duplicate batch moved LastSeenAt to %v", d.LastSeenAt)
	}

	// Batch ids are per device.
	dup, err = s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-2", BatchID: "b-1", ReceivedAt: at(3),
		Evidence: []collector.Evidence{sighting("slack", collector.SourceDNS, "bob@example.com", "dev-2", "", at(0), at(1), 5)}})
	must(t, err, "same batch id, other device")
	if dup {
		t.Error("the same batch id from another device reported duplicate")
	}
}

func testMergeByDedupeKey(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "alice@example.com")
	morning := sighting("slack", collector.SourceDNS, "alice@example.com", "dev-1", "acme", at(1), at(2), 3)
	later := morning
	later.FirstSeen, later.LastSeen, later.Count = at(0), at(5), 4
	again := morning
	again.FirstSeen, again.LastSeen, again.Count = at(3), at(4), 10

	ingest(t, s, "dev-1", "b-1", at(2), morning)
	ingest(t, s, "dev-1", "b-2", at(6), later, again) // the same key twice in one batch merges too

	want := morning
	want.FirstSeen, want.LastSeen, want.Count = at(0), at(5), 17
	diff(t, "merged evidence", listAll(t, s), sortedEvidence(want))

	usage, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	if len(usage) != 1 || usage[0].BySource[collector.SourceDNS] != 17 || usage[0].People != 1 ||
		!usage[0].FirstSeen.Equal(at(0)) || !usage[0].LastSeen.Equal(at(5)) {
		t.Errorf("usage after merges = %+v, want dns 17, 1 person, seen %v to %v", usage, at(0), at(5))
	}
}

func testAddEvidence(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	a := event("slack", collector.SourceOAuthGrant, "alice@example.com", at(0), "google:grant:alice:slack")
	b := event("slack", collector.SourceSSOLogin, "bob@example.com", at(1), "okta:login:1")
	c := event("zoom", collector.SourceSSOLogin, "carol@example.com", at(2), "okta:login:2")
	aAgain := a
	aAgain.Count, aAgain.LastSeen, aAgain.Detail = 50, at(9), "changed"

	steps := []struct {
		name string
		add  []collector.Evidence
		want int
	}{
		{"two new", []collector.Evidence{a, b}, 2},
		{"the same again", []collector.Evidence{a, b}, 0},
		{"a changed copy of a stored key", []collector.Evidence{aAgain}, 0},
		{"one old, one new twice", []collector.Evidence{b, c, c}, 1},
		{"nothing", nil, 0},
	}
	for _, st := range steps {
		n, err := s.AddEvidence(ctx, st.add)
		must(t, err, "add evidence: "+st.name)
		if n != st.want {
			t.Errorf("AddEvidence(%s) = %d, want %d", st.name, n, st.want)
		}
	}
	diff(t, "stored evidence", listAll(t, s), sortedEvidence(a, b, c))

	// A call with one bad row stores none of its rows.
	d := event("figma", collector.SourceSSOLogin, "dan@example.com", at(3), "okta:login:3")
	for _, bad := range []collector.Evidence{
		{AppID: "", Source: collector.SourceManual, DedupeKey: "manual:1"},
		{AppID: "figma", Source: collector.SourceManual, DedupeKey: ""},
	} {
		if _, err := s.AddEvidence(ctx, []collector.Evidence{d, bad}); err == nil {
			t.Errorf("AddEvidence with %+v: no error", bad)
		}
	}
	if got := listAll(t, s); len(got) != 3 {
		t.Errorf("after refused calls: %d rows, want 3", len(got))
	}

	usage, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	bySource := map[string]map[collector.Source]int64{}
	for _, u := range usage {
		bySource[u.AppID] = u.BySource
	}
	diff(t, "per-source counts (skipped rows count nothing)", bySource, map[string]map[collector.Source]int64{
		"slack": {collector.SourceOAuthGrant: 1, collector.SourceSSOLogin: 1},
		"zoom":  {collector.SourceSSOLogin: 1},
	})
}

func testListEvidence(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "alice@example.com")
	enroll(t, s, "dev-2", "bob@example.com")
	d1 := sighting("slack", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(1), 1)
	d2 := sighting("slack", collector.SourceSNI, "alice@example.com", "dev-1", "", at(24), at(25), 1)
	d3 := sighting("zoom", collector.SourceDNS, "bob@example.com", "dev-2", "", at(48), at(49), 1)
	inv := event("zoom", collector.SourceInvoice, "", at(30), "mail:invoice:1")
	inv.AmountCents, inv.Currency, inv.Detail = 1499, "USD", "billing@example.com: Your Zoom invoice"
	ingest(t, s, "dev-1", "b-1", at(26), d1, d2)
	ingest(t, s, "dev-2", "b-2", at(50), d3)
	_, err := s.AddEvidence(ctx, []collector.Evidence{inv})
	must(t, err, "add invoice")

	all, err := s.ListEvidence(ctx, collector.EvidenceFilter{})
	must(t, err, "list all")
	diff(t, "newest day first", keys(all), []string{d3.DedupeKey, inv.DedupeKey, d2.DedupeKey, d1.DedupeKey})

	cases := []struct {
		name   string
		filter collector.EvidenceFilter
		want   []collector.Evidence
	}{
		{"by app", collector.EvidenceFilter{AppID: "slack"}, []collector.Evidence{d1, d2}},
		{"by person", collector.EvidenceFilter{Person: "bob@example.com"}, []collector.Evidence{d3}},
		{"by device", collector.EvidenceFilter{Device: "dev-1"}, []collector.Evidence{d1, d2}},
		{"by source", collector.EvidenceFilter{Source: collector.SourceDNS}, []collector.Evidence{d1, d3}},
		{"since", collector.EvidenceFilter{Since: at(25)}, []collector.Evidence{d2, d3, inv}},
		{"app and source", collector.EvidenceFilter{AppID: "zoom", Source: collector.SourceInvoice}, []collector.Evidence{inv}},
		{"no match", collector.EvidenceFilter{AppID: "figma"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListEvidence(ctx, tc.filter)
		must(t, err, "list "+tc.name)
		got = sortedEvidence(got...)
		if want := sortedEvidence(tc.want...); len(got) != 0 || len(want) != 0 {
			diff(t, "ListEvidence "+tc.name, got, want)
		}
	}

	limited, err := s.ListEvidence(ctx, collector.EvidenceFilter{Limit: 2})
	must(t, err, "list limited")
	diff(t, "limit 2", keys(limited), []string{d3.DedupeKey, inv.DedupeKey})
}

func keys(ev []collector.Evidence) []string {
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.DedupeKey
	}
	return out
}

// usageScenario stores evidence of five apps:
//   - slack: alice (dev-a) and bob (dev-b) by dns/sni in tenants acme and
//     beta, carol by an OAuth grant, and three invoices paid by finance
//     (which is not usage: finance is not one of its people);
//   - github: alice signs in through the IdP, no device;
//   - notion: only configured in the IdP;
//   - zoom: a device with no known person;
//   - old-tool: alice, two weeks before the rest.
func usageScenario(t *testing.T, s Stores) {
	t.Helper()
	ctx := context.Background()
	enroll(t, s, "dev-a", "alice@example.com")
	enroll(t, s, "dev-b", "bob@example.com")
	enroll(t, s, "dev-c", "")
	ingest(t, s, "dev-a", "a-1", at(10),
		sighting("slack", collector.SourceDNS, "alice@example.com", "dev-a", "acme", at(1), at(9), 10),
		sighting("slack", collector.SourceSNI, "alice@example.com", "dev-a", "beta", at(2), at(3), 2),
		sighting("old-tool", collector.SourceDNS, "alice@example.com", "dev-a", "", at(-14*24), at(-14*24+1), 1),
	)
	ingest(t, s, "dev-b", "b-1", at(10),
		sighting("slack", collector.SourceSNI, "bob@example.com", "dev-b", "acme", at(0), at(4), 5),
	)
	ingest(t, s, "dev-c", "c-1", at(10),
		sighting("zoom", collector.SourceDNS, "", "dev-c", "", at(5), at(6), 3),
	)
	grant := event("slack", collector.SourceOAuthGrant, "carol@example.com", at(-3), "grant:carol:slack")
	grant.Detail = "channels:read chat:write"
	login := event("github", collector.SourceSSOLogin, "alice@example.com", at(7), "login:alice:github")
	idp := event("notion", collector.SourceIdPApp, "admin@example.com", at(8), "okta:app:notion")
	inv1 := event("slack", collector.SourceInvoice, "finance@example.com", at(11), "invoice:1")
	inv1.AmountCents, inv1.Currency = 800, "USD"
	inv2 := event("slack", collector.SourceInvoice, "finance@example.com", time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), "invoice:2")
	inv2.AmountCents, inv2.Currency = 200, "USD"
	inv3 := event("slack", collector.SourceInvoice, "finance@example.com", time.Date(2026, 10, 15, 8, 0, 0, 0, time.UTC), "invoice:3")
	inv3.AmountCents, inv3.Currency = 1200, "EUR"
	n, err := s.AddEvidence(ctx, []collector.Evidence{grant, login, idp, inv1, inv2, inv3})
	must(t, err, "add evidence")
	if n != 6 {
		t.Fatalf("AddEvidence = %d, want 6", n)
	}
}

// normUsage sorts usage by app and tenants, turns times to UTC and empty
// collections to nil, so stores that differ only there compare equal.
func normUsage(us []collector.AppUsage) []collector.AppUsage {
	out := make([]collector.AppUsage, len(us))
	for i, u := range us {
		u.FirstSeen, u.LastSeen = u.FirstSeen.UTC(), u.LastSeen.UTC()
		u.Tenants = slices.Sorted(slices.Values(u.Tenants))
		if len(u.Tenants) == 0 {
			u.Tenants = nil
		}
		if len(u.BySource) == 0 {
			u.BySource = nil
		}
		if len(u.SpendCents) == 0 {
			u.SpendCents = nil
		}
		out[i] = u
	}
	slices.SortFunc(out, func(a, b collector.AppUsage) int { return cmp.Compare(a.AppID, b.AppID) })
	return out
}

func testAppUsage(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	usageScenario(t, s)
	got, err := s.AppUsage(context.Background())
	must(t, err, "app usage")
	want := []collector.AppUsage{
		{AppID: "github", People: 1, Devices: 0, BySource: map[collector.Source]int64{collector.SourceSSOLogin: 1},
			FirstSeen: at(7), LastSeen: at(7)},
		{AppID: "notion", People: 0, Devices: 0, BySource: map[collector.Source]int64{collector.SourceIdPApp: 1},
			FirstSeen: at(8), LastSeen: at(8)},
		{AppID: "old-tool", People: 1, Devices: 1, BySource: map[collector.Source]int64{collector.SourceDNS: 1},
			FirstSeen: at(-14 * 24), LastSeen: at(-14*24 + 1)},
		{AppID: "slack", People: 3, Devices: 2,
			BySource: map[collector.Source]int64{
				collector.SourceDNS: 10, collector.SourceSNI: 7, collector.SourceOAuthGrant: 1, collector.SourceInvoice: 3,
			},
			Tenants:   []string{"acme", "beta"},
			FirstSeen: time.Date(2026, 10, 15, 8, 0, 0, 0, time.UTC),
			LastSeen:  time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
			SpendCents: map[string]map[string]int64{
				"2026-11": {"USD": 1000},
				"2026-10": {"EUR": 1200},
			}},
		{AppID: "zoom", People: 0, Devices: 1, BySource: map[collector.Source]int64{collector.SourceDNS: 3},
			FirstSeen: at(5), LastSeen: at(6)},
	}
	diff(t, "AppUsage", normUsage(got), want)
}

func testPeopleUsage(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	usageScenario(t, s)
	got, err := s.PeopleUsage(context.Background())
	must(t, err, "people usage")
	for i := range got {
		p := &got[i]
		p.FirstSeen, p.LastSeen = p.FirstSeen.UTC(), p.LastSeen.UTC()
		p.Apps = slices.Sorted(slices.Values(p.Apps))
		p.Devices = slices.Sorted(slices.Values(p.Devices))
		if len(p.Devices) == 0 {
			p.Devices = nil
		}
	}
	slices.SortFunc(got, func(a, b collector.PersonUsage) int { return cmp.Compare(a.Email, b.Email) })
	want := []collector.PersonUsage{
		{Email: "alice@example.com", Apps: []string{"github", "old-tool", "slack"}, Devices: []string{"dev-a"},
			FirstSeen: at(-14 * 24), LastSeen: at(9)},
		{Email: "bob@example.com", Apps: []string{"slack"}, Devices: []string{"dev-b"}, FirstSeen: at(0), LastSeen: at(4)},
		{Email: "carol@example.com", Apps: []string{"slack"}, FirstSeen: at(-3), LastSeen: at(-3)},
	}
	diff(t, "PeopleUsage (no finance: invoices are not usage; no admin: idp_app is not usage)", got, want)
}

func testStatus(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	states, err := s.AppStates(ctx)
	must(t, err, "app states")
	if len(states) != 0 {
		t.Fatalf("fresh store has states: %+v", states)
	}

	c1, err := s.SetStatus(ctx, collector.StatusChange{AppID: "slack", To: collector.StatusApproved, By: "it@example.com", Why: "SSO in place", At: at(1)})
	must(t, err, "set status")
	diff(t, "first change", normChange(c1), collector.StatusChange{
		AppID: "slack", From: collector.StatusUnreviewed, To: collector.StatusApproved, By: "it@example.com", Why: "SSO in place", At: at(1),
	})
	c2, err := s.SetStatus(ctx, collector.StatusChange{AppID: "slack", To: collector.StatusNotPermitted, By: "ciso", Why: "data residency"})
	must(t, err, "set status again")
	if c2.From != collector.StatusApproved {
		t.Errorf("second change From = %q, want approved", c2.From)
	}
	if c2.At.IsZero() {
		t.Error("a change with no time got none from the store")
	}

	states, err = s.AppStates(ctx)
	must(t, err, "app states")
	st := states["slack"]
	if len(states) != 1 || st.AppID != "slack" || st.Status != collector.StatusNotPermitted || st.By != "ciso" ||
		st.Why != "data residency" || !st.At.Equal(c2.At) || st.InsideIdP != "" {
		t.Errorf("AppStates = %+v, want slack not_permitted by ciso at %v", states, c2.At)
	}

	hist, err := s.StatusHistory(ctx, "slack")
	must(t, err, "history")
	for i := range hist {
		hist[i] = normChange(hist[i])
	}
	diff(t, "StatusHistory", hist, []collector.StatusChange{normChange(c1), normChange(c2)})

	hist, err = s.StatusHistory(ctx, "zoom")
	must(t, err, "history of an app without decisions")
	if len(hist) != 0 {
		t.Errorf("history of an undecided app: %+v", hist)
	}

	for _, bad := range []collector.StatusChange{
		{AppID: "", To: collector.StatusApproved},
		{AppID: "slack", To: "maybe"},
		{AppID: "slack", To: ""},
	} {
		if _, err := s.SetStatus(ctx, bad); err == nil {
			t.Errorf("SetStatus(%+v): no error", bad)
		}
	}
	hist, err = s.StatusHistory(ctx, "slack")
	must(t, err, "history")
	if len(hist) != 2 {
		t.Errorf("refused changes reached the history: %+v", hist)
	}
}

func normChange(c collector.StatusChange) collector.StatusChange {
	c.At = c.At.UTC()
	return c
}

func testInsideIdP(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	must(t, s.SetInsideIdP(ctx, "zoom", "okta"), "set inside idp")
	states, err := s.AppStates(ctx)
	must(t, err, "app states")
	if st := states["zoom"]; st.Status != collector.StatusUnreviewed || st.InsideIdP != "okta" || !st.At.IsZero() {
		t.Errorf("state after SetInsideIdP = %+v, want unreviewed, okta, no decision time", st)
	}

	_, err = s.SetStatus(ctx, collector.StatusChange{AppID: "zoom", To: collector.StatusApproved, By: "it", At: at(1)})
	must(t, err, "set status")
	states, err = s.AppStates(ctx)
	must(t, err, "app states")
	if st := states["zoom"]; st.Status != collector.StatusApproved || st.InsideIdP != "okta" {
		t.Errorf("after SetStatus = %+v, want approved and still okta", st)
	}

	must(t, s.SetInsideIdP(ctx, "zoom", "entra"), "move to entra")
	must(t, s.SetInsideIdP(ctx, "zoom", ""), "leave the idp")
	states, err = s.AppStates(ctx)
	must(t, err, "app states")
	if st := states["zoom"]; st.Status != collector.StatusApproved || st.InsideIdP != "" {
		t.Errorf("after leaving the IdP = %+v, want approved and no IdP", st)
	}
	if err := s.SetInsideIdP(ctx, "", "okta"); err == nil {
		t.Error("SetInsideIdP with an empty app id: no error")
	}
}

func testPurge(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-a", "alice@example.com")
	enroll(t, s, "dev-b", "bob@example.com")
	old := t0.Add(-100 * 24 * time.Hour)
	cut := t0.Add(-90 * 24 * time.Hour)

	oldAlice := sighting("slack", collector.SourceDNS, "alice@example.com", "dev-a", "acme", old, old.Add(time.Hour), 4)
	oldTool := sighting("old-tool", collector.SourceDNS, "alice@example.com", "dev-a", "", old, old, 1)
	oldBob := sighting("slack", collector.SourceDNS, "bob@example.com", "dev-b", "", old, old, 2)
	newAlice := sighting("slack", collector.SourceDNS, "alice@example.com", "dev-a", "acme", at(0), at(1), 6)
	ingest(t, s, "dev-a", "old-batch", old.Add(2*time.Hour), oldAlice, oldTool)
	ingest(t, s, "dev-b", "old-batch", old.Add(2*time.Hour), oldBob)
	ingest(t, s, "dev-a", "new-batch", at(2), newAlice)
	oldInvoice := event("old-tool", collector.SourceInvoice, "", old, "invoice:old")
	oldInvoice.AmountCents, oldInvoice.Currency = 500, "USD"
	_, err := s.AddEvidence(ctx, []collector.Evidence{oldInvoice})
	must(t, err, "add invoice")

	n, err := s.PurgeEvidence(ctx, collector.Retention{Evidence: cut, Aggregates: cut, Batches: cut})
	must(t, err, "purge")
	if n != 4 {
		t.Errorf("PurgeEvidence = %d, want 4 old rows", n)
	}
	diff(t, "evidence left", listAll(t, s), sortedEvidence(newAlice))

	usage, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	if len(usage) != 1 || usage[0].AppID != "slack" {
		t.Fatalf("AppUsage after purge = %+v, want slack only (old-tool was last seen before the cut-off)", usage)
	}
	if usage[0].People != 1 || usage[0].Devices != 1 {
		t.Errorf("slack after purge: %d people, %d devices; want 1 and 1 (bob was last seen before the cut-off)",
			usage[0].People, usage[0].Devices)
	}
	people, err := s.PeopleUsage(ctx)
	must(t, err, "people usage")
	if len(people) != 1 || people[0].Email != "alice@example.com" || !slices.Equal(people[0].Apps, []string{"slack"}) {
		t.Errorf("PeopleUsage after purge = %+v, want alice with slack only", people)
	}

	// Old batch records are gone, so their ids are free again; new ones
	// are still remembered.
	dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-a", BatchID: "new-batch", ReceivedAt: at(3)})
	must(t, err, "replay new batch")
	if !dup {
		t.Error("a batch newer than the cut-off was forgotten")
	}
	dup, err = s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-a", BatchID: "old-batch", ReceivedAt: at(3)})
	must(t, err, "reuse old batch id")
	if dup {
		t.Error("a batch record older than the cut-off was kept")
	}

	n, err = s.PurgeEvidence(ctx, collector.Retention{Evidence: cut, Aggregates: cut, Batches: cut})
	must(t, err, "purge again")
	if n != 0 {
		t.Errorf("second purge = %d, want 0", n)
	}
}

// testPurgeWindows: raw evidence, aggregates and batch records each have
// their own retention; a zero cut-off keeps its kind.
func testPurgeWindows(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-a", "alice@example.com")
	old := t0.Add(-100 * 24 * time.Hour)
	ingest(t, s, "dev-a", "old-batch", old.Add(time.Hour), sighting("slack", collector.SourceDNS, "alice@example.com", "dev-a", "acme", old, old, 4))

	// Raw evidence older than 90 days goes; the aggregates (13 months)
	// and the batch record stay.
	n, err := s.PurgeEvidence(ctx, collector.Retention{Evidence: t0.Add(-90 * 24 * time.Hour)})
	must(t, err, "purge evidence only")
	if n != 1 {
		t.Errorf("purged %d evidence rows, want 1", n)
	}
	if left := listAll(t, s); len(left) != 0 {
		t.Errorf("evidence left: %+v", left)
	}
	usage, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	if len(usage) != 1 || usage[0].People != 1 || len(usage[0].Tenants) != 1 {
		t.Errorf("aggregates after an evidence-only purge = %+v, want slack with alice and tenant acme", usage)
	}
	dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-a", BatchID: "old-batch", ReceivedAt: at(1)})
	must(t, err, "replay")
	if !dup {
		t.Error("the batch record went with the evidence; it has its own retention")
	}

	// Then the aggregates' own window.
	_, err = s.PurgeEvidence(ctx, collector.Retention{Aggregates: t0.Add(-30 * 24 * time.Hour)})
	must(t, err, "purge aggregates")
	usage, err = s.AppUsage(ctx)
	must(t, err, "app usage")
	if len(usage) != 0 {
		t.Errorf("aggregates after their purge = %+v, want none", usage)
	}
}

func testOddValues(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "")

	weird := sighting("slack", collector.SourceSNI, "zoë@exämple.com", "dev-1", "ünïcode-テナント", at(0), at(1), math.MaxInt64)
	weird.Detail = "nul \x00 byte, quote ' and \" and; DROP TABLE evidence; --" + strings.Repeat("x", 10_000)
	weird.Domain = "xn--bcher-kva.example"
	ingest(t, s, "dev-1", "b-1", at(2), weird)
	diff(t, "odd strings round-trip", listAll(t, s), sortedEvidence(weird))

	// Merging onto MaxInt64 saturates instead of failing or wrapping.
	more := weird
	more.Count = 5
	ingest(t, s, "dev-1", "b-2", at(3), more)
	ev := listAll(t, s)
	if len(ev) != 1 || ev[0].Count != math.MaxInt64 {
		t.Errorf("count after merging onto MaxInt64 = %+v, want MaxInt64", ev)
	}
	usage, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	if len(usage) != 1 || usage[0].BySource[collector.SourceSNI] != math.MaxInt64 {
		t.Errorf("per-source count after saturation = %+v, want MaxInt64", usage)
	}

	// A refund is a negative amount.
	refund := event("zoom", collector.SourceInvoice, "", time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), "refund:1")
	refund.AmountCents, refund.Currency = -1500, "USD"
	// Times far out and missing are stored without error (the server
	// refuses them before they get here; the store must just not break).
	far := event("zoom", collector.SourceManual, "", time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), "manual:far")
	untimed := collector.Evidence{AppID: "zoom", Source: collector.SourceManual, DedupeKey: "manual:untimed"}
	n, err := s.AddEvidence(ctx, []collector.Evidence{refund, far, untimed})
	must(t, err, "add odd evidence")
	if n != 3 {
		t.Errorf("AddEvidence = %d, want 3", n)
	}
	usage, err = s.AppUsage(ctx)
	must(t, err, "app usage")
	for _, u := range usage {
		if u.AppID == "zoom" && u.SpendCents["2026-11"]["USD"] != -1500 {
			t.Errorf("zoom spend = %v, want -1500 USD in 2026-11", u.SpendCents)
		}
	}
}

func testCancelledContext(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	enroll(t, s, "dev-1", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-1", ReceivedAt: at(1),
		Evidence: []collector.Evidence{sighting("slack", collector.SourceDNS, "", "dev-1", "", at(0), at(1), 1)}})
	if err == nil {
		t.Error("IngestBatch with a cancelled context: no error")
	}
	if _, err := s.AddEvidence(ctx, []collector.Evidence{event("zoom", collector.SourceSSOLogin, "a@example.com", at(0), "k")}); err == nil {
		t.Error("AddEvidence with a cancelled context: no error")
	}
	if ev := listAll(t, s); len(ev) != 0 {
		t.Errorf("cancelled calls stored evidence: %+v", ev)
	}
}

func testConcurrentIngest(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	const (
		devices    = 8
		perDevice  = 25 // batches each device sends, from two goroutines
		rowsEach   = 50
		goroutines = 2 * devices
	)
	for d := range devices {
		enroll(t, s, fmt.Sprintf("dev-%d", d), fmt.Sprintf("user%d@example.com", d))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for g := range goroutines {
		wg.Go(func() {
			dev := fmt.Sprintf("dev-%d", g%devices)
			person := fmt.Sprintf("user%d@example.com", g%devices)
			for b := range perDevice {
				ev := make([]collector.Evidence, rowsEach)
				for r := range ev {
					// Every row counts 1; rows repeat across batches of a
					// device so that merging runs concurrently too.
					ev[r] = sighting(fmt.Sprintf("app-%d", r), collector.SourceDNS, person, dev, "", at(0), at(1), 1)
				}
				_, err := s.IngestBatch(ctx, collector.Batch{
					DeviceID: dev, BatchID: fmt.Sprintf("g%d-b%d", g, b), ReceivedAt: at(2), Evidence: ev,
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d concurrent ingests failed, first: %v", len(errs), errs[0])
	}
	ev := listAll(t, s)
	if len(ev) != devices*rowsEach {
		t.Fatalf("%d evidence rows, want %d", len(ev), devices*rowsEach)
	}
	for _, e := range ev {
		if e.Count != goroutines/devices*perDevice {
			t.Fatalf("row %s count %d, want %d: a merge was lost", e.DedupeKey, e.Count, goroutines/devices*perDevice)
		}
	}
	usage, err := s.AppUsage(ctx)
	must(t, err, "app usage")
	if len(usage) != rowsEach {
		t.Fatalf("%d apps, want %d", len(usage), rowsEach)
	}
	for _, u := range usage {
		if u.People != devices || u.Devices != devices || u.BySource[collector.SourceDNS] != goroutines*perDevice {
			t.Errorf("%s: %d people, %d devices, dns %d; want %d, %d, %d",
				u.AppID, u.People, u.Devices, u.BySource[collector.SourceDNS], devices, devices, goroutines*perDevice)
		}
	}
}

func testConcurrentDuplicateBatch(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "alice@example.com")
	const senders = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stored  int
		failure error
	)
	for range senders {
		wg.Go(func() {
			dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "retry", ReceivedAt: at(2),
				Evidence: []collector.Evidence{sighting("slack", collector.SourceDNS, "alice@example.com", "dev-1", "", at(0), at(1), 3)}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failure = err
			} else if !dup {
				stored++
			}
		})
	}
	wg.Wait()
	must(t, failure, "concurrent replays")
	if stored != 1 {
		t.Errorf("%d of %d identical batches were stored, want exactly 1", stored, senders)
	}
	if ev := listAll(t, s); len(ev) != 1 || ev[0].Count != 3 {
		t.Errorf("evidence after concurrent replays = %+v, want one row counting 3", ev)
	}
}

// unknownDomains returns what UnknownDomainDevices answers since t.
func unknownDomains(t *testing.T, s Stores, since time.Time) map[string]int {
	t.Helper()
	got, err := s.UnknownDomainDevices(context.Background(), since)
	must(t, err, "unknown domain devices")
	return got
}

func testUnknownDomains(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	for _, d := range []string{"dev-1", "dev-2", "dev-3"} {
		enroll(t, s, d, "")
	}
	today, yesterday, lastWeek := day(at(0)), day(at(-24)), day(at(-7*24))
	if got := unknownDomains(t, s, at(-1000*24)); len(got) != 0 {
		t.Fatalf("empty store: %v", got)
	}
	ud := func(domain, day string, count int64) collector.UnknownDomainCount {
		return collector.UnknownDomainCount{Domain: domain, Day: day, Count: count}
	}
	ingestUnknown := func(device, batchID string, ev []collector.Evidence, u ...collector.UnknownDomainCount) bool {
		t.Helper()
		dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: device, BatchID: batchID, ReceivedAt: at(1), Evidence: ev, UnknownDomains: u})
		must(t, err, "ingest "+batchID)
		return dup
	}
	slack := sighting("slack", collector.SourceDNS, "", "dev-1", "", at(0), at(0), 1)
	ingestUnknown("dev-1", "b-1", []collector.Evidence{slack}, ud("tinyshop.com", today, 3), ud("other.org", yesterday, 1))
	ingestUnknown("dev-1", "b-2", nil, ud("tinyshop.com", today, 2), ud("TinyShop.com.", yesterday, 1)) // unknown domains alone
	ingestUnknown("dev-2", "b-1", nil, ud("tinyshop.com", today, 1))
	ingestUnknown("dev-3", "b-1", nil, ud("tinyshop.com", lastWeek, 1), ud("old.example", lastWeek, 5))

	diff(t, "since yesterday", unknownDomains(t, s, at(-24)), map[string]int{"tinyshop.com": 2, "other.org": 1})
	diff(t, "since today", unknownDomains(t, s, at(0)), map[string]int{"tinyshop.com": 2})
	diff(t, "since last week", unknownDomains(t, s, at(-7*24)), map[string]int{"tinyshop.com": 3, "other.org": 1, "old.example": 1})
	diff(t, "since tomorrow", unknownDomains(t, s, at(24)), map[string]int{})
	diff(t, "evidence next to the unknown domains", listAll(t, s), sortedEvidence(slack))

	// A replay is a duplicate and adds nothing, unknown domains included.
	if !ingestUnknown("dev-1", "b-2", nil, ud("replayed.net", today, 1)) {
		t.Error("a replayed batch of unknown domains was not a duplicate")
	}
	if got := unknownDomains(t, s, at(-24)); got["replayed.net"] != 0 {
		t.Errorf("a duplicate batch stored its unknown domains: %v", got)
	}
	// An unknown device is ErrNotFound, as for evidence.
	_, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "nobody", BatchID: "b-9", UnknownDomains: []collector.UnknownDomainCount{ud("x.com", today, 1)}})
	if !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("unknown domains from an unknown device: %v, want ErrNotFound", err)
	}
}

func testUnknownDomainsAtomic(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "")
	good := collector.UnknownDomainCount{Domain: "tinyshop.com", Day: day(at(0)), Count: 1}
	ev := []collector.Evidence{sighting("slack", collector.SourceDNS, "", "dev-1", "", at(0), at(0), 1)}
	for _, bad := range []collector.UnknownDomainCount{
		{Domain: "", Day: day(at(0)), Count: 1},
		{Domain: "x.com", Day: "yesterday", Count: 1},
		{Domain: "x.com", Day: day(at(0)) + "T00:00:00Z", Count: 1},
	} {
		_, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-1", ReceivedAt: at(1), Evidence: ev,
			UnknownDomains: []collector.UnknownDomainCount{good, bad}})
		if err == nil {
			t.Errorf("unknown domain %+v stored", bad)
		}
	}
	if got := unknownDomains(t, s, at(-24)); len(got) != 0 {
		t.Errorf("a refused batch stored unknown domains: %v", got)
	}
	if got := listAll(t, s); len(got) != 0 {
		t.Errorf("a refused batch stored evidence: %+v", got)
	}
	// The batch id was not used up.
	bad := collector.UnknownDomainCount{Domain: "x.com", Day: day(at(0)), Count: 0} // stored as 1
	ingest(t, s, "dev-1", "b-1", at(1), ev...)
	dup, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-2", ReceivedAt: at(1), UnknownDomains: []collector.UnknownDomainCount{good, bad}})
	must(t, err, "ingest a zero count")
	if dup {
		t.Fatal("b-2 reported duplicate")
	}
	diff(t, "unknown domains", unknownDomains(t, s, at(0)), map[string]int{"tinyshop.com": 1, "x.com": 1})
}

// testUnknownDomainsPurge: unknown-domain counts go with the aggregates'
// retention, by day.
func testUnknownDomainsPurge(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()
	enroll(t, s, "dev-1", "")
	old := t0.Add(-100 * 24 * time.Hour)
	_, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-1", BatchID: "b-1", ReceivedAt: at(1),
		UnknownDomains: []collector.UnknownDomainCount{
			{Domain: "old.com", Day: day(old), Count: 1},
			{Domain: "new.com", Day: day(at(0)), Count: 1},
		}})
	must(t, err, "ingest")
	all := map[string]int{"old.com": 1, "new.com": 1}
	_, err = s.PurgeEvidence(ctx, collector.Retention{Evidence: at(-24), Batches: at(-24)})
	must(t, err, "purge evidence only")
	diff(t, "after purging evidence", unknownDomains(t, s, old.Add(-24*time.Hour)), all)
	// The cut-off's own day is kept: a day is purged once it is wholly
	// before the cut-off.
	_, err = s.PurgeEvidence(ctx, collector.Retention{Aggregates: old.Add(time.Hour)})
	must(t, err, "purge aggregates on the old day")
	diff(t, "after a cut-off on the old day", unknownDomains(t, s, old.Add(-24*time.Hour)), all)
	_, err = s.PurgeEvidence(ctx, collector.Retention{Aggregates: old.Add(24 * time.Hour)})
	must(t, err, "purge aggregates")
	diff(t, "after purging aggregates", unknownDomains(t, s, old.Add(-24*time.Hour)), map[string]int{"new.com": 1})
}
