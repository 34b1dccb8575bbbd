package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// testAppNotes: a note round-trips, is replaced whole, is per app, and an
// app without one reads as a zero note, not an error.
func testAppNotes(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := context.Background()

	got, err := s.AppNote(ctx, "slack")
	must(t, err, "note of an app without one")
	diff(t, "empty note", got, collector.AppNote{AppID: "slack"})

	first := collector.AppNote{AppID: "slack", Owner: "it@example.com", Notes: "Contract renews in March.\n<b>'quoted'</b>",
		By: "alice@example.com", At: at(1)}
	must(t, s.SetAppNote(ctx, first), "set note")
	got, err = s.AppNote(ctx, "slack")
	must(t, err, "read note")
	got.At = got.At.UTC()
	diff(t, "note", got, first)

	second := collector.AppNote{AppID: "slack", Owner: "", Notes: strings.Repeat("ü", collector.MaxAppNotesLen/2), By: "bob@example.com", At: at(2)}
	must(t, s.SetAppNote(ctx, second), "replace note")
	got, err = s.AppNote(ctx, "slack")
	must(t, err, "read replaced note")
	got.At = got.At.UTC()
	diff(t, "replaced note", got, second)

	other, err := s.AppNote(ctx, "zoom")
	must(t, err, "note of another app")
	diff(t, "another app's note", other, collector.AppNote{AppID: "zoom"})

	if err := s.SetAppNote(ctx, collector.AppNote{Owner: "x"}); err == nil {
		t.Error("SetAppNote with an empty app id: no error")
	}
	untimed := collector.AppNote{AppID: "zoom", Owner: "ops"}
	must(t, s.SetAppNote(ctx, untimed), "note without a time")
	got, err = s.AppNote(ctx, "zoom")
	must(t, err, "read untimed note")
	if got.At.IsZero() {
		t.Error("a note stored without a time reads back without one; the store sets now")
	}
}
