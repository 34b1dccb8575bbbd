package inventory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Person is one person and what they were seen using.
type Person struct {
	Email string `json:"email"`
	// Apps are the apps the person was seen using, by name.
	Apps []PersonApp `json:"apps"`
	// Devices are the ids of the person's devices, sorted.
	Devices   []string  `json:"devices"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

// PersonApp names an app in a person's list.
type PersonApp struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// People lists everyone with evidence, sorted by email, each with their
// apps (sorted by name) and devices. Evidence without a person (a device
// whose owner is not known yet) is not a person and is left out.
func (inv *Inventory) People(ctx context.Context) ([]Person, error) {
	usage, err := inv.usage.PeopleUsage(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory: people usage: %w", err)
	}
	byEmail := make(map[string]int, len(usage))
	out := make([]Person, 0, len(usage))
	for _, u := range usage {
		email := strings.ToLower(strings.TrimSpace(u.Email))
		if email == "" {
			continue
		}
		i, ok := byEmail[email]
		if !ok {
			i = len(out)
			byEmail[email] = i
			out = append(out, Person{Email: email, Apps: make([]PersonApp, 0, len(u.Apps))})
		}
		p := &out[i]
		for _, id := range u.Apps {
			p.Apps = append(p.Apps, PersonApp{ID: id, Name: inv.appName(id)})
		}
		p.Devices = append(p.Devices, u.Devices...)
		p.FirstSeen = earliest(p.FirstSeen, u.FirstSeen.UTC())
		p.LastSeen = latest(p.LastSeen, u.LastSeen.UTC())
	}
	// keyed is reused across people: each app's sort key is looked up
	// once, not on every comparison.
	type keyed struct {
		key string
		app PersonApp
	}
	var scratch []keyed
	for i := range out {
		p := &out[i]
		scratch = scratch[:0]
		for _, a := range p.Apps {
			scratch = append(scratch, keyed{inv.sortName(a.ID), a})
		}
		slices.SortFunc(scratch, func(a, b keyed) int {
			if c := cmp.Compare(a.key, b.key); c != 0 {
				return c
			}
			return cmp.Compare(a.app.ID, b.app.ID)
		})
		for j, k := range scratch {
			p.Apps[j] = k.app
		}
		p.Apps = slices.Compact(p.Apps)
		slices.Sort(p.Devices)
		p.Devices = slices.Compact(p.Devices)
		if p.Apps == nil {
			p.Apps = []PersonApp{}
		}
		if p.Devices == nil {
			p.Devices = []string{}
		}
	}
	slices.SortFunc(out, func(a, b Person) int { return cmp.Compare(a.Email, b.Email) })
	return out, nil
}

// appName is the catalog name of an app, or its id when the catalog does
// not know it.
func (inv *Inventory) appName(id string) string {
	if f := inv.facts[id]; f != nil {
		return f.app.Name
	}
	return id
}

// sortName is what app lists sort by: the lowercase catalog name, or
// the id (lowercase already) for an app the catalog does not know.
func (inv *Inventory) sortName(id string) string {
	if f := inv.facts[id]; f != nil {
		return f.lowerName
	}
	return id
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
