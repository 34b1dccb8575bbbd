package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestRedaction: the enroll secret shows in no way Settings are commonly
// printed, logged or encoded.
func TestRedaction(t *testing.T) {
	const secret = "s3cret-0123456789abcdef"
	s, err := Load(Options{
		DefaultConfigPath: "testdata/absent.yaml",
		Getenv: envOf(map[string]string{
			"SHADOWMAP_AGENT_COLLECTOR": "https://c.example.com", "SHADOWMAP_AGENT_ENROLL_SECRET": secret,
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, *s), fmt.Sprintf(verb, s), fmt.Sprintf(verb, s.EnrollSecret), fmt.Sprintf(verb, s.EnrollSecret.Value))
	}
	for _, v := range []any{*s, s, s.Redacted(), s.EnrollSecret} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(j))
	}
	for _, newHandler := range []func(*strings.Builder) slog.Handler{
		func(b *strings.Builder) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *strings.Builder) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b strings.Builder
		log := slog.New(newHandler(&b))
		log.Info("settings", "settings", s, "secret", s.EnrollSecret.Value, "setting", s.EnrollSecret)
		outputs = append(outputs, b.String())
	}
	outputs = append(outputs, s.String())
	for i, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", secret)) {
			t.Errorf("output %d shows the secret: %s", i, out)
		}
	}
	if s.EnrollSecret.Value.Reveal() != secret {
		t.Error("Reveal lost the secret")
	}
	if !strings.Contains(s.String(), "enroll secret") || !strings.Contains(s.String(), "set") {
		t.Errorf("redacted view does not say the secret is set:\n%s", s)
	}
}

func TestRedactedURL(t *testing.T) {
	if got := redactURL("https://u:hunter2@c.example.com"); strings.Contains(got, "hunter2") {
		t.Errorf("redactURL shows the password: %s", got)
	}
}
