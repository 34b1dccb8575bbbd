package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
)

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// The sort keys Query.Sort accepts.
const (
	SortPeople    = "people"
	SortDevices   = "devices"
	SortLastSeen  = "last_seen"
	SortFirstSeen = "first_seen"
	SortName      = "name"
	SortSpend     = "spend"
)

// SortKeys lists the sort keys Query.Sort accepts.
func SortKeys() []string {
	return []string{SortPeople, SortDevices, SortLastSeen, SortFirstSeen, SortName, SortSpend}
}

// Query selects, orders and pages the app list. The zero value lists the
// first page of every app, most people first.
type Query struct {
	Status   collector.Status // only apps with this status
	Flag     Flag             // only apps carrying this flag
	Source   collector.Source // only apps with evidence from this source
	Category string           // only apps in this catalog category
	// Text keeps apps whose id, name, vendor or a tenant contains it,
	// case-insensitively.
	Text string
	// Sort is one of SortKeys; people when empty. Spend sorts by last
	// month's spend in the inventory's currency (Options.Currency).
	Sort string
	// Order is asc or desc; when empty, name sorts ascending and every
	// other key descending (most people, latest, highest spend first).
	// Ties are broken by name, then id.
	Order string
	// Page is 1-based; Limit is the rows per page (DefaultLimit when 0,
	// at most MaxLimit).
	Page  int
	Limit int
}

// Validate reports whether the query can be answered; its error wraps
// ErrInvalidQuery.
func (q Query) Validate() error {
	_, err := q.normalized()
	return err
}

// normalized checks q and fills its defaults.
func (q Query) normalized() (Query, error) {
	if q.Status != "" && !q.Status.Valid() {
		return q, fmt.Errorf("%w: unknown status %q", ErrInvalidQuery, q.Status)
	}
	if q.Flag != "" && !q.Flag.Valid() {
		return q, fmt.Errorf("%w: unknown flag %q", ErrInvalidQuery, q.Flag)
	}
	if q.Source != "" && !q.Source.Valid() {
		return q, fmt.Errorf("%w: unknown source %q", ErrInvalidQuery, q.Source)
	}
	if q.Sort == "" {
		q.Sort = SortPeople
	}
	if !slices.Contains(SortKeys(), q.Sort) {
		return q, fmt.Errorf("%w: unknown sort %q (one of %s)", ErrInvalidQuery, q.Sort, strings.Join(SortKeys(), ", "))
	}
	switch q.Order {
	case "":
		q.Order = "desc"
		if q.Sort == SortName {
			q.Order = "asc"
		}
	case "asc", "desc":
	default:
		return q, fmt.Errorf("%w: order %q must be asc or desc", ErrInvalidQuery, q.Order)
	}
	if q.Page < 0 || q.Limit < 0 {
		return q, fmt.Errorf("%w: page and limit must not be negative", ErrInvalidQuery)
	}
	if q.Page == 0 {
		q.Page = 1
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	q.Category = strings.ToLower(strings.TrimSpace(q.Category))
	q.Text = strings.ToLower(strings.TrimSpace(q.Text))
	return q, nil
}

// matches reports whether a draft passes q's filters. q is normalized.
func (q Query) matches(d *draft) bool {
	r := &d.row
	if q.Status != "" && r.Status != q.Status {
		return false
	}
	if q.Flag != "" && !d.flags.has(q.Flag) {
		return false
	}
	if q.Source != "" && d.bySource()[q.Source] <= 0 {
		return false
	}
	if q.Category != "" && r.Category != q.Category {
		return false
	}
	if q.Text != "" {
		name, vendor := strings.ToLower(r.Name), strings.ToLower(r.Vendor)
		if d.facts != nil {
			name, vendor = d.facts.lowerName, d.facts.lowerVendor
		}
		if !strings.Contains(strings.ToLower(r.ID), q.Text) &&
			!strings.Contains(name, q.Text) &&
			!strings.Contains(vendor, q.Text) &&
			!strings.Contains(d.lowerTenant, q.Text) {
			return false
		}
	}
	return true
}

// sort orders drafts by q. q is normalized.
func (q Query) sort(rows []*draft) {
	desc := q.Order == "desc"
	slices.SortFunc(rows, func(a, b *draft) int {
		c := q.compare(a, b)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		if c := strings.Compare(lowerName(a), lowerName(b)); c != 0 {
			return c
		}
		return strings.Compare(a.row.ID, b.row.ID)
	})
}

// compare orders two drafts ascending by q's key, except that apps with
// no time at all (state only) go last in either order when sorting by a
// time: for those it returns what still puts them last once sort has
// flipped the result for desc.
func (q Query) compare(a, b *draft) int {
	ra, rb := &a.row, &b.row
	switch q.Sort {
	case SortPeople:
		return cmp.Compare(ra.People, rb.People)
	case SortDevices:
		return cmp.Compare(ra.Devices, rb.Devices)
	case SortLastSeen, SortFirstSeen:
		ta, tb := ra.LastSeen, rb.LastSeen
		if q.Sort == SortFirstSeen {
			ta, tb = ra.FirstSeen, rb.FirstSeen
		}
		if ta.IsZero() != tb.IsZero() {
			last := 1
			if tb.IsZero() {
				last = -1
			}
			if q.Order == "desc" {
				last = -last
			}
			return last
		}
		return ta.Compare(tb)
	case SortName:
		return strings.Compare(lowerName(a), lowerName(b))
	case SortSpend:
		if c := cmp.Compare(a.sortSpend[0], b.sortSpend[0]); c != 0 {
			return c
		}
		return cmp.Compare(a.sortSpend[1], b.sortSpend[1])
	}
	return 0
}

func lowerName(d *draft) string {
	if d.facts != nil {
		return d.facts.lowerName
	}
	return d.row.ID
}
