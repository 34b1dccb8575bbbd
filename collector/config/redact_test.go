package config

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestRedaction: once loaded, no secret or token shows in any way a
// Config is commonly printed, logged or encoded, nor in any error.
func TestRedaction(t *testing.T) {
	dir := t.TempDir()
	secretFile := writeFile(t, dir, "enroll", secretB+"\n", 0o600)
	tokenFile := writeFile(t, dir, "token", tokenB+"\n", 0o600)
	path := writeFile(t, dir, "shadowmap.yaml", `
enroll_secrets:
  - {name: inline, secret: "`+secretA+`"}
  - {name: from-file, secret_file: `+secretFile+`}
admin_tokens:
  - {name: from-file, token_file: `+tokenFile+`}
`, 0o600)
	cfg := mustLoad(t, path, []string{"SHADOWMAP_ENROLL_SECRET=" + secretC, "SHADOWMAP_ADMIN_TOKEN=" + tokenA}, nil)
	secrets := []string{secretA, secretB, secretC, tokenA, tokenB}
	for i, s := range secrets {
		if got, ok := cfg.MatchEnrollSecret(s); i < 3 && !ok {
			t.Fatalf("secret %d not loaded (%v)", i, got.Name)
		}
	}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs,
			fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, cfg.EnrollSecrets),
			fmt.Sprintf(verb, cfg.AdminTokens[0]), fmt.Sprintf(verb, cfg.EnrollSecrets[0].Secret))
	}
	outputs = append(outputs, fmt.Sprint(cfg), fmt.Sprintln(cfg.AdminTokens), cfg.EnrollSecrets[1].Secret.String())
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j), string(y))
	for _, newHandler := range []func(*strings.Builder) slog.Handler{
		func(b *strings.Builder) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *strings.Builder) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b strings.Builder
		log := slog.New(newHandler(&b))
		log.Info("loaded", "config", cfg, "secret", cfg.EnrollSecrets[0].Secret, "entry", cfg.EnrollSecrets[2])
		log.Info("pointer", "config", &cfg)
		outputs = append(outputs, b.String())
	}
	red := cfg.Redacted()
	for _, e := range red.EnrollSecrets {
		outputs = append(outputs, e.Secret.Reveal())
	}
	for _, tok := range red.AdminTokens {
		outputs = append(outputs, tok.Token.Reveal())
	}
	// The original keeps its values: Redacted copies.
	if cfg.EnrollSecrets[0].Secret.Reveal() != secretA {
		t.Error("Redacted changed the original")
	}

	for i, out := range outputs {
		if !strings.Contains(out, redacted) {
			t.Errorf("output %d shows no %s: %s", i, redacted, out)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) || strings.Contains(strings.ToLower(out), hex.EncodeToString([]byte(s))) {
				t.Errorf("output %d leaks a secret: %s", i, out)
			}
		}
	}
}

// TestErrorsNeverQuoteSecrets goes through every error that concerns a
// secret or token.
func TestErrorsNeverQuoteSecrets(t *testing.T) {
	const short = "short-secret-15"
	dir := t.TempDir()
	shortFile := writeFile(t, dir, "short", short+"\n", 0o600)
	tests := []struct {
		name string
		yaml string
		env  []string
	}{
		{"short inline", "enroll_secrets: [{name: a, secret: " + short + "}]", nil},
		{"short file", "enroll_secrets: [{name: a, secret_file: " + shortFile + "}]", nil},
		{"short env", "", []string{"SHADOWMAP_ADMIN_TOKEN=" + short}},
		{"same value twice", "enroll_secrets: [{name: a, secret: " + secretA + "}, {name: b, secret: " + secretA + "}]", nil},
		{"secret as token", "enroll_secrets: [{name: a, secret: " + secretA + "}]", []string{"SHADOWMAP_ADMIN_TOKEN=" + secretA}},
		{"bad name next to a secret", "enroll_secrets: [{name: 'a b', secret: " + secretA + "}]", nil},
		{"unknown key next to a secret", "enroll_secrets: [{name: a, secret: " + secretA + ", expires: never}]", nil},
		{"both forms", "enroll_secrets: [{name: a, secret: " + secretA + ", secret_file: " + shortFile + "}]", nil},
		{"secret is a list", "enroll_secrets: [{name: a, secret: [" + secretA + "]}]", nil},
		{"secret is a mapping", "admin_tokens: [{name: a, token: {" + tokenA + ": 1}}]", nil},
		{"duplicate key", "admin_tokens: [{name: a, token: " + tokenA + ", token: " + tokenB + "}]", nil},
		{"bad YAML after a secret", "admin_tokens: [{name: a, token: \"" + tokenA + "\"}]\nlisten: [", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeFile(t, t.TempDir(), "shadowmap.yaml", tt.yaml+"\n", 0o600)
			}
			_, err := Load(path, tt.env, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, s := range []string{short, secretA, tokenA, tokenB} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error quotes a secret: %v", err)
				}
			}
		})
	}
}
