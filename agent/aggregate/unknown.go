package aggregate

import (
	"cmp"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/collector/api"
)

// DefaultUnknownPerDay is how many distinct unknown domains a day may
// count when UnknownDomainOptions.MaxPerDay is not set.
const DefaultUnknownPerDay = 500

// reductionCacheSize bounds the cache of names already reduced to their
// registrable domain. Reducing a name costs an allocation (the public
// suffix lookup's); the cache makes a name seen again free. When full it
// is emptied rather than grown.
const reductionCacheSize = 4096

// UnknownDomainOptions configure the opt-in unknown-domain telemetry.
type UnknownDomainOptions struct {
	// MaxPerDay caps the distinct domains counted per UTC day; a new
	// domain past it counts as overflow (Stats.UnknownOverflow) and is
	// not sent. DefaultUnknownPerDay when below 1.
	MaxPerDay int
	// OwnDomains are the company's own domains (acme.com,
	// corp.acme.net): names at or under them are never counted.
	OwnDomains []string
}

// WithUnknownDomains turns the unknown-domain telemetry on. Off (the
// default), names that match no app are dropped as soon as they are
// seen. On, each is reduced to its registrable domain
// (api.RegistrableDomain) and counted per UTC day: domain and count only,
// never the user, the full name or a tenant. IP addresses, single labels,
// private and reserved suffixes, reverse zones and the company's own
// domains are dropped.
func WithUnknownDomains(o UnknownDomainOptions) Option {
	return func(a *Aggregator) {
		u := &unknownCounter{
			maxPerDay: o.MaxPerDay,
			m:         make(map[unknownKey]*int64),
			perDay:    make(map[int32]int),
			reduced:   make(map[string]string),
		}
		if u.maxPerDay < 1 {
			u.maxPerDay = DefaultUnknownPerDay
		}
		for _, d := range o.OwnDomains {
			d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), ".")
			if d != "" {
				u.own = append(u.own, d)
			}
		}
		a.unknown = u
	}
}

type unknownKey struct {
	domain string
	day    int32
}

// unknownCounter counts unknown registrable domains per day. Its keys
// outlive a flush with a zero count, for the day and the day before, so
// that the per-day cap holds across flushes: the agent flushes every few
// minutes, and a cap per flush would be no cap.
type unknownCounter struct {
	maxPerDay int
	own       []string
	m         map[unknownKey]*int64
	perDay    map[int32]int // distinct domains per day, flushed or not
	pending   int           // keys with a count above zero
	newest    int32         // the latest day counted
	// reduced maps a name as seen to its registrable domain, or to ""
	// when the name is not counted. Keys and values are copies: the
	// name may alias a packet buffer.
	reduced map[string]string
}

func (u *unknownCounter) observe(name string, day int32, st *Stats) {
	reg, ok := u.reduced[name]
	if !ok {
		if len(u.reduced) >= reductionCacheSize {
			clear(u.reduced)
		}
		name = strings.Clone(name)
		reg = u.reduce(name) // a piece of the copy, or a new string
		u.reduced[name] = reg
	}
	if reg == "" {
		st.UnknownPrivate++
		return
	}
	k := unknownKey{domain: reg, day: day}
	if c := u.m[k]; c != nil {
		if *c == 0 {
			u.pending++
		}
		*c++
		st.UnknownCounted++
		return
	}
	if u.perDay[day] >= u.maxPerDay {
		st.UnknownOverflow++
		return
	}
	u.perDay[day]++
	u.pending++
	u.newest = max(u.newest, day)
	c := int64(1)
	u.m[k] = &c
	st.UnknownCounted++
}

// reduce returns name's registrable domain, or "" when it must not be
// counted.
func (u *unknownCounter) reduce(name string) string {
	reg, ok := api.RegistrableDomain(name)
	if !ok {
		return ""
	}
	full := strings.TrimSuffix(name, ".")
	for _, d := range u.own {
		if len(full) >= len(d) && strings.EqualFold(full[len(full)-len(d):], d) &&
			(len(full) == len(d) || full[len(full)-len(d)-1] == '.') {
			return ""
		}
	}
	return reg
}

// flush returns the counts above zero, sorted by day and domain, and sets
// them to zero. Keys of days before yesterday (of the newest day seen)
// are forgotten: no more lookups will be made on them.
func (u *unknownCounter) flush() []api.UnknownDomain {
	if u.pending == 0 && len(u.m) == 0 {
		return nil
	}
	var out []api.UnknownDomain
	if u.pending > 0 {
		out = make([]api.UnknownDomain, 0, u.pending)
	}
	for k, c := range u.m {
		if *c > 0 {
			out = append(out, api.UnknownDomain{Domain: k.domain, Day: dayString(k.day), Count: min(*c, api.MaxSightingCount)})
			*c = 0
		}
		if k.day < u.newest-1 {
			delete(u.m, k)
		}
	}
	for d := range u.perDay {
		if d < u.newest-1 {
			delete(u.perDay, d)
		}
	}
	u.pending = 0
	slices.SortFunc(out, func(x, y api.UnknownDomain) int {
		if c := cmp.Compare(x.Day, y.Day); c != 0 {
			return c
		}
		return cmp.Compare(x.Domain, y.Domain)
	})
	return out
}
