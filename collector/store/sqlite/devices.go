package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shadowmap/shadowmap/collector"
)

const deviceColumns = `id, hostname, os, os_version, arch, agent_version, owner_email, last_user, enroll_secret,
	enrolled_at, last_seen_at, revoked, capture_state, packets_seen, drops, spool_depth,
	health_agent_version, last_error, health_reported_at, interfaces`

// CreateDevice stores a new device with the hash of its token. The id and
// the hash must be non-empty and unused. A zero EnrolledAt is set to now.
func (s *Store) CreateDevice(ctx context.Context, d collector.Device, tokenHash []byte) error {
	if d.ID == "" {
		return errors.New("create device: empty id")
	}
	if len(tokenHash) == 0 {
		return fmt.Errorf("create device %s: empty token hash", d.ID)
	}
	if d.EnrolledAt.IsZero() {
		d.EnrolledAt = s.opts.Now()
	}
	h := d.Health
	err := s.write(ctx, func(w *writeTx) error {
		_, err := w.execSQL(`INSERT INTO devices (id, token_hash, hostname, os, os_version, arch, agent_version,
				owner_email, last_user, enroll_secret, enrolled_at, last_seen_at, revoked, capture_state,
				packets_seen, drops, spool_depth, health_agent_version, last_error, health_reported_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, tokenHash, d.Hostname, d.OS, d.OSVersion, d.Arch, d.AgentVersion,
			d.OwnerEmail, d.LastUser, d.EnrollSecret, toMicros(d.EnrolledAt), toMicros(d.LastSeenAt), d.Revoked, h.CaptureState,
			int64(h.PacketsSeen), int64(h.Drops), h.SpoolDepth, h.AgentVersion, h.LastError, toMicros(h.ReportedAt))
		if isUniqueError(err) {
			return errors.New("a device with this id or token already exists")
		}
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("create device %s: %w", d.ID, err)
	}
	return nil
}

// DeviceByTokenHash finds the device a token belongs to, revoked or not.
func (s *Store) DeviceByTokenHash(ctx context.Context, tokenHash []byte) (collector.Device, error) {
	if len(tokenHash) == 0 {
		return collector.Device{}, fmt.Errorf("device by token: %w", collector.ErrNotFound)
	}
	d, err := scanDevice(s.readDB.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE token_hash = ?", tokenHash))
	if err != nil {
		return collector.Device{}, fmt.Errorf("device by token: %w", err)
	}
	return d, nil
}

// Device returns a device by id.
func (s *Store) Device(ctx context.Context, id string) (collector.Device, error) {
	d, err := scanDevice(s.readDB.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = ?", id))
	if err != nil {
		return collector.Device{}, fmt.Errorf("device %q: %w", id, err)
	}
	return d, nil
}

// ListDevices returns every device, revoked ones too, sorted by id.
func (s *Store) ListDevices(ctx context.Context) ([]collector.Device, error) {
	rows, err := s.readDB.QueryContext(ctx, "SELECT "+deviceColumns+" FROM devices ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []collector.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// RecordHeartbeat stores a device's health. The device's LastSeenAt moves
// up to the report time (now when zero), and a non-empty agent version
// becomes the device's.
func (s *Store) RecordHeartbeat(ctx context.Context, deviceID string, h collector.Health) error {
	if h.ReportedAt.IsZero() {
		h.ReportedAt = s.opts.Now()
	}
	at := toMicros(h.ReportedAt)
	ifaces, err := json.Marshal(nonNil(h.Interfaces))
	if err != nil {
		return fmt.Errorf("record heartbeat of device %q: %w", deviceID, err)
	}
	err = s.write(ctx, func(w *writeTx) error {
		res, err := w.exec(stHeartbeat, h.CaptureState, int64(h.PacketsSeen), int64(h.Drops), h.SpoolDepth,
			h.AgentVersion, h.LastError, at, string(ifaces), h.AgentVersion, h.AgentVersion, at, deviceID)
		if err != nil {
			return err
		}
		return mustAffect(res)
	}, nil)
	if err != nil {
		return fmt.Errorf("record heartbeat of device %q: %w", deviceID, err)
	}
	return nil
}

// RevokeDevice stops a device's token from working. Revoking a revoked
// device is not an error.
func (s *Store) RevokeDevice(ctx context.Context, id string) error {
	err := s.write(ctx, func(w *writeTx) error {
		res, err := w.execSQL("UPDATE devices SET revoked = 1 WHERE id = ?", id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	}, nil)
	if err != nil {
		return fmt.Errorf("revoke device %q: %w", id, err)
	}
	return nil
}

// mustAffect returns ErrNotFound when a statement changed no row.
func mustAffect(res sql.Result) error {
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return collector.ErrNotFound
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanDevice reads the deviceColumns; no row is ErrNotFound.
func scanDevice(sc scanner) (collector.Device, error) {
	var (
		d                            collector.Device
		enrolled, lastSeen, reported int64
		packets, drops               int64
		ifaces                       string
	)
	err := sc.Scan(&d.ID, &d.Hostname, &d.OS, &d.OSVersion, &d.Arch, &d.AgentVersion, &d.OwnerEmail, &d.LastUser,
		&d.EnrollSecret, &enrolled, &lastSeen, &d.Revoked, &d.Health.CaptureState, &packets, &drops,
		&d.Health.SpoolDepth, &d.Health.AgentVersion, &d.Health.LastError, &reported, &ifaces)
	if errNoRows(err) {
		return collector.Device{}, collector.ErrNotFound
	}
	if err != nil {
		return collector.Device{}, err
	}
	d.EnrolledAt, d.LastSeenAt, d.Health.ReportedAt = fromMicros(enrolled), fromMicros(lastSeen), fromMicros(reported)
	d.Health.PacketsSeen, d.Health.Drops = uint64(packets), uint64(drops)
	if ifaces != "" {
		if err := json.Unmarshal([]byte(ifaces), &d.Health.Interfaces); err != nil {
			return collector.Device{}, fmt.Errorf("interfaces of device %s: %w", d.ID, err)
		}
		if len(d.Health.Interfaces) == 0 {
			d.Health.Interfaces = nil
		}
	}
	return d, nil
}
