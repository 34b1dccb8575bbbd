package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/api"
)

// tokenBytes is the size of a device token: 256 bits.
const tokenBytes = 32

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	req, err := api.DecodeEnroll(http.MaxBytesReader(w, r.Body, api.MaxSmallBody))
	if err != nil {
		s.metrics.enrollments.WithLabelValues("rejected").Inc()
		writeDecodeError(w, err)
		return
	}
	sec, ok, err := s.matchEnrollSecret(r.Context(), req.EnrollSecret)
	if err != nil {
		s.internalError(w, r, fmt.Errorf("enroll: %w", err))
		return
	}
	switch {
	case !ok:
		s.metrics.enrollments.WithLabelValues("unauthorized").Inc()
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown enroll secret")
		return
	case sec.Revoked:
		s.metrics.enrollments.WithLabelValues("forbidden").Inc()
		writeError(w, http.StatusForbidden, "forbidden", "this enroll secret is revoked")
		return
	}
	id, err := randomString(12)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	token, err := randomString(tokenBytes)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	now := s.now().UTC()
	d := collector.Device{
		ID:           "dev_" + id,
		Hostname:     req.Hostname,
		OS:           req.OS,
		OSVersion:    req.OSVersion,
		Arch:         req.Arch,
		AgentVersion: req.AgentVersion,
		OwnerEmail:   strings.ToLower(req.OwnerEmail),
		LastUser:     req.User,
		EnrollSecret: sec.Name,
		EnrolledAt:   now,
		LastSeenAt:   now,
	}
	if err := s.opts.Stores.CreateDevice(r.Context(), d, hashToken(token)); err != nil {
		s.internalError(w, r, fmt.Errorf("enroll: %w", err))
		return
	}
	s.metrics.enrollments.WithLabelValues("enrolled").Inc()
	s.log.Info("device enrolled", "device", d.ID, "hostname", d.Hostname, "os", d.OS, "secret", sec.Name)
	writeJSON(w, http.StatusCreated, api.EnrollResponse{DeviceID: d.ID, DeviceToken: token})
}

type deviceKey struct{}

// device wraps a handler that needs a device token, and passes the device
// in the request context.
func (s *Server) device(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "a device token is required (Authorization: Bearer ...)")
			return
		}
		d, err := s.opts.Stores.DeviceByTokenHash(r.Context(), hashToken(token))
		if errors.Is(err, collector.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown device token")
			return
		}
		if err != nil {
			s.internalError(w, r, fmt.Errorf("look up device: %w", err))
			return
		}
		revoked := d.Revoked
		if !revoked {
			if revoked, err = s.secretRevoked(r.Context(), d.EnrollSecret); err != nil {
				s.internalError(w, r, fmt.Errorf("look up enroll secret: %w", err))
				return
			}
		}
		if revoked {
			writeError(w, http.StatusForbidden, "forbidden", "this device is revoked; enroll it again")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), deviceKey{}, d)))
	}
}

// matchEnrollSecret finds the enroll secret equal to presented among the
// configuration's and the web view's, revoked or not. The stored ones are
// compared by SHA-256, in constant time and against every entry, so the
// time taken does not tell which one matched. A name in the configuration
// wins over a stored secret of the same name (the web view refuses to make
// one).
func (s *Server) matchEnrollSecret(ctx context.Context, presented string) (Secret, bool, error) {
	if sec, ok := matchSecret(s.opts.EnrollSecrets, presented); ok {
		return sec, true, nil
	}
	if s.opts.StoredEnrollSecrets == nil {
		return Secret{}, false, nil
	}
	stored, err := s.opts.StoredEnrollSecrets.EnrollSecrets(ctx)
	if err != nil {
		return Secret{}, false, err
	}
	h := hashToken(presented)
	var found Secret
	ok := false
	for _, st := range stored {
		if subtle.ConstantTimeCompare(st.Hash, h) == 1 && !ok {
			found, ok = Secret{Name: st.Name, Revoked: st.Revoked()}, true
		}
	}
	return found, ok, nil
}

// secretRevoked reports whether devices enrolled with the named secret are
// refused: the secret is revoked in the configuration or the web view, or
// is in neither any more.
func (s *Server) secretRevoked(ctx context.Context, name string) (bool, error) {
	// Devices of a configuration secret, the usual case, need no store
	// read on their every upload.
	if revoked, ok := s.configSecretRevoked(name); ok {
		return revoked, nil
	}
	revoked, err := s.secretRevocation(ctx)
	if err != nil {
		return false, err
	}
	return revoked(name), nil
}

// secretRevocation reads the stored enroll secrets once and returns what
// secretRevoked answers for any name, for listing many devices.
func (s *Server) secretRevocation(ctx context.Context) (func(name string) bool, error) {
	var stored []collector.EnrollSecret
	if s.opts.StoredEnrollSecrets != nil {
		var err error
		if stored, err = s.opts.StoredEnrollSecrets.EnrollSecrets(ctx); err != nil {
			return nil, err
		}
	}
	return func(name string) bool {
		if revoked, ok := s.configSecretRevoked(name); ok {
			return revoked
		}
		for _, st := range stored {
			if st.Name == name {
				return st.Revoked()
			}
		}
		// A secret removed from the configuration revokes its devices
		// too.
		return name != ""
	}, nil
}

// configSecretRevoked reports whether the configuration's enroll secret
// called name is revoked; ok is false when the configuration has none.
func (s *Server) configSecretRevoked(name string) (revoked, ok bool) {
	for _, sec := range s.opts.EnrollSecrets {
		if sec.Name == name {
			return sec.Revoked, true
		}
	}
	return false, false
}

func deviceFrom(ctx context.Context) collector.Device {
	d, _ := ctx.Value(deviceKey{}).(collector.Device)
	return d
}

// writeDecodeError answers a body the api package refused.
func writeDecodeError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, api.ErrTooLarge), errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	default:
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	}
}

func (s *Server) sightings(w http.ResponseWriter, r *http.Request) {
	d := deviceFrom(r.Context())
	if !s.limiter.allow(d.ID) {
		s.metrics.batches.WithLabelValues("rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(s.limiter.retryAfterSeconds()))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many uploads from this device; retry later")
		return
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		s.metrics.batches.WithLabelValues("rejected").Inc()
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the body is %d bytes; the limit is %d", r.ContentLength, s.opts.MaxBodyBytes))
		return
	}
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "gzip":
		gzipped = true
	case "", "identity":
	default:
		writeError(w, http.StatusUnsupportedMediaType, "bad_request", "unsupported Content-Encoding "+strconv.Quote(enc))
		return
	}
	batch, err := api.DecodeBatch(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes), gzipped, s.now())
	if err != nil {
		s.metrics.batches.WithLabelValues("rejected").Inc()
		writeDecodeError(w, err)
		return
	}
	b := collector.Batch{
		DeviceID:     d.ID,
		BatchID:      batch.BatchID,
		AgentVersion: batch.AgentVersion,
		ReceivedAt:   s.now().UTC(),
		Evidence:     make([]collector.Evidence, 0, len(batch.Sightings)),
	}
	for i, sg := range batch.Sightings {
		if s.opts.Catalog.App(sg.App) == nil {
			s.metrics.batches.WithLabelValues("rejected").Inc()
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("sightings[%d]: unknown app %q", i, sg.App))
			return
		}
		b.Evidence = append(b.Evidence, s.sightingEvidence(d, sg))
	}
	for _, u := range batch.UnknownDomains {
		// Domain and count only: the device is kept to count distinct
		// devices, never the user.
		b.UnknownDomains = append(b.UnknownDomains, collector.UnknownDomainCount{Domain: u.Domain, Day: u.Day, Count: u.Count})
	}
	dup, err := s.opts.Stores.IngestBatch(r.Context(), b)
	if err != nil {
		s.internalError(w, r, fmt.Errorf("ingest batch %s from %s: %w", b.BatchID, d.ID, err))
		return
	}
	if dup {
		s.metrics.batches.WithLabelValues("duplicate").Inc()
		writeJSON(w, http.StatusOK, api.SightingsResponse{Accepted: 0, Duplicate: true})
		return
	}
	s.metrics.batches.WithLabelValues("accepted").Inc()
	s.metrics.sightings.Add(float64(len(b.Evidence)))
	writeJSON(w, http.StatusOK, api.SightingsResponse{Accepted: len(b.Evidence)})
}

// sightingEvidence turns an agent sighting into an evidence row. The
// dedupe key names the daily aggregate, so the same aggregate sent in two
// batches (the agent's day goes on) is one row with the counts summed.
func (s *Server) sightingEvidence(d collector.Device, sg api.Sighting) collector.Evidence {
	key := sha256.Sum256([]byte(strings.Join([]string{"agent", d.ID, sg.App, sg.Domain, sg.Tenant, sg.User, sg.Day, sg.Source}, "\x00")))
	return collector.Evidence{
		AppID:     sg.App,
		Source:    collector.Source(sg.Source),
		Person:    s.personFor(d, sg.User),
		DeviceID:  d.ID,
		Day:       sg.Day,
		FirstSeen: sg.FirstSeen.UTC(),
		LastSeen:  sg.LastSeen.UTC(),
		Count:     sg.Count,
		Domain:    sg.Domain,
		Tenant:    sg.Tenant,
		// 128 bits of the hash: collision-safe, and a shorter key keeps
		// the evidence index small on the hot path.
		DedupeKey: base64.RawURLEncoding.EncodeToString(key[:16]),
	}
}

// personFor maps a device and the OS user the agent reported to a person:
// the MDM owner first, then a user that is already an email, then the
// user at the configured email domain.
func (s *Server) personFor(d collector.Device, user string) string {
	if d.OwnerEmail != "" {
		return d.OwnerEmail
	}
	user = strings.ToLower(strings.TrimSpace(user))
	if user == "" {
		return ""
	}
	if strings.Contains(user, "@") {
		if a, err := mail.ParseAddress(user); err == nil {
			return strings.ToLower(a.Address)
		}
		return ""
	}
	if s.opts.EmailDomain == "" {
		return ""
	}
	// DOMAIN\user on Windows.
	if i := strings.LastIndexByte(user, '\\'); i >= 0 {
		user = user[i+1:]
	}
	addr := user + "@" + strings.ToLower(s.opts.EmailDomain)
	if _, err := mail.ParseAddress(addr); err != nil {
		return ""
	}
	return addr
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	d := deviceFrom(r.Context())
	hb, err := api.DecodeHeartbeat(http.MaxBytesReader(w, r.Body, api.MaxSmallBody))
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	h := collector.Health{
		CaptureState: hb.CaptureState,
		PacketsSeen:  hb.PacketsSeen,
		Drops:        hb.Drops,
		SpoolDepth:   hb.SpoolDepth,
		AgentVersion: hb.AgentVersion,
		LastError:    hb.LastError,
		Interfaces:   hb.Interfaces,
		ReportedAt:   s.now().UTC(),
	}
	if err := s.opts.Stores.RecordHeartbeat(r.Context(), d.ID, h); err != nil {
		s.internalError(w, r, fmt.Errorf("record heartbeat: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", s.opts.CatalogETag)
	w.Header().Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, s.opts.CatalogETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.opts.CatalogBundle)))
	w.WriteHeader(http.StatusOK)
	w.Write(s.opts.CatalogBundle)
}

// etagMatches implements If-None-Match's list and weak comparison.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
