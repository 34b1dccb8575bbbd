package sqlite

import (
	"context"
	"fmt"
)

// stmtID names a statement the writer prepares once and reuses in every
// transaction: the ones an ingest or a heartbeat runs.
type stmtID int

const (
	stInsertBatch stmtID = iota
	stTouchDevice
	stMergeEvidenceRow
	stMergeEvidence
	stInsertEvidence
	stAddAppSource
	stAddAppPerson
	stAddAppDevice
	stAddPersonDevice
	stAddAppTenant
	stAddAppSpend
	stHeartbeat
	stAddUnknownDomain
	stUpsertGrant
	numStmts
)

// Sums saturate at the int64 limits instead of failing: SQLite turns an
// overflowing integer sum into a REAL, and min/max bring it back to the
// limit, so one absurd count cannot make every later merge of that row fail.
const (
	satAddCount  = `min(count + excluded.count, 9223372036854775807)`
	satAddAmount = `max(min(amount_cents + excluded.amount_cents, 9223372036854775807), -9223372036854775807 - 1)`
	widenFirst   = `first_seen = min(first_seen, excluded.first_seen)`
	widenLast    = `last_seen = max(last_seen, excluded.last_seen)`
)

// statementSQL returns the text of every prepared statement, by id.
func statementSQL() [numStmts]string {
	return [numStmts]string{
		stInsertBatch: `INSERT OR IGNORE INTO batches (device_id, batch_id, agent_version, received_at, rows)
		VALUES (?, ?, ?, ?, ?)`,
		stTouchDevice: `UPDATE devices SET last_seen_at = max(last_seen_at, ?) WHERE id = ?`,
		// Most agent rows merge into a row an earlier upload of the day
		// made: an UPDATE by key binds 5 values where the upsert binds
		// 14, and skips building a record only to hit the conflict.
		stMergeEvidenceRow: `UPDATE evidence SET
			count = min(count + ?1, 9223372036854775807),
			first_seen = min(first_seen, ?2),
			last_seen = max(last_seen, ?3),
			amount_cents = max(min(amount_cents + ?4, 9223372036854775807), -9223372036854775807 - 1)
		WHERE dedupe_key = ?5`,
		stMergeEvidence: `INSERT INTO evidence (dedupe_key, app_id, source, person, device_id, day,
			first_seen, last_seen, count, domain, tenant, detail, amount_cents, currency)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dedupe_key) DO UPDATE SET
			count = ` + satAddCount + `,
			` + widenFirst + `,
			` + widenLast + `,
			amount_cents = ` + satAddAmount,
		stInsertEvidence: `INSERT INTO evidence (dedupe_key, app_id, source, person, device_id, day,
			first_seen, last_seen, count, domain, tenant, detail, amount_cents, currency)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dedupe_key) DO NOTHING`,
		stAddAppSource: `INSERT INTO app_sources (app_id, source, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app_id, source) DO UPDATE SET count = ` + satAddCount + `, ` + widenFirst + `, ` + widenLast,
		stAddAppPerson: `INSERT INTO app_people (person, app_id, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (person, app_id) DO UPDATE SET ` + widenFirst + `, ` + widenLast,
		stAddAppDevice: `INSERT INTO app_devices (device_id, app_id, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (device_id, app_id) DO UPDATE SET ` + widenFirst + `, ` + widenLast,
		stAddPersonDevice: `INSERT INTO person_devices (person, device_id, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (person, device_id) DO UPDATE SET ` + widenFirst + `, ` + widenLast,
		stAddAppTenant: `INSERT INTO app_tenants (app_id, tenant, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id, tenant) DO UPDATE SET ` + widenFirst + `, ` + widenLast,
		stAddAppSpend: `INSERT INTO app_spend (app_id, month, currency, cents) VALUES (?, ?, ?, ?)
		ON CONFLICT (app_id, month, currency) DO UPDATE SET
			cents = max(min(cents + excluded.cents, 9223372036854775807), -9223372036854775807 - 1)`,
		stAddUnknownDomain: `INSERT INTO unknown_domains (day, domain, device_id, count) VALUES (?, ?, ?, ?)
		ON CONFLICT (day, domain, device_id) DO UPDATE SET count = ` + satAddCount,
		stHeartbeat: `UPDATE devices SET
			capture_state = ?, packets_seen = ?, drops = ?, spool_depth = ?,
			health_agent_version = ?, last_error = ?, health_reported_at = ?, interfaces = ?,
			agent_version = CASE WHEN ? <> '' THEN ? ELSE agent_version END,
			last_seen_at = max(last_seen_at, ?)
		WHERE id = ?`,
		// A file import of grants writes one of these per row.
		stUpsertGrant: `INSERT INTO oauth_grants (provider, person, client_id, app_id, name, scopes, granted_at, revoked_at, seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (provider, person, client_id) DO UPDATE SET app_id = excluded.app_id,
				name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END,
				scopes = CASE WHEN excluded.scopes <> '' THEN excluded.scopes ELSE scopes END,
				granted_at = CASE WHEN revoked_at <> 0 THEN excluded.granted_at ELSE min(granted_at, excluded.granted_at) END,
				revoked_at = 0, seen_at = max(seen_at, excluded.seen_at)`,
	}
}

// prepare prepares the writer's statements on its one connection.
func (s *Store) prepare(ctx context.Context) error {
	for id, q := range statementSQL() {
		st, err := s.writeDB.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare statement %d: %w", id, err)
		}
		s.prepared[id] = st
	}
	return nil
}
