package config

import (
	"flag"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    map[key]string // text by key; origins are checked below
		wantErr string         // substring of the error
	}{
		{name: "empty", yaml: "", want: map[key]string{}},
		{name: "comments only", yaml: "# nothing yet\n", want: map[key]string{}},
		{name: "scalars", yaml: "collector_url: https://c.example.com\nflush_interval: 300\nunknown_domains: yes\n",
			want: map[key]string{keyCollectorURL: "https://c.example.com", keyFlushInterval: "300", keyUnknownDomains: "yes"}},
		{name: "null is unset", yaml: "collector_url:\nowner_email: ~\n", want: map[key]string{}},
		{name: "interfaces as list", yaml: "interfaces: [en0, \"Wi-Fi 2\"]\n", want: map[key]string{keyInterfaces: "en0,Wi-Fi 2"}},
		{name: "interfaces as text", yaml: "interfaces: en0, en1\n", want: map[key]string{keyInterfaces: "en0, en1"}},
		{name: "own domains as list", yaml: "own_domains:\n  - acme.com\n  - Bücher.example\n", want: map[key]string{keyOwnDomains: "acme.com,Bücher.example"}},
		{name: "own domains as text", yaml: "own_domains: acme.com, acme.net\n", want: map[key]string{keyOwnDomains: "acme.com, acme.net"}},
		{name: "own domains empty list", yaml: "own_domains: []\n", want: map[key]string{keyOwnDomains: ""}},
		{name: "own domains item with a comma", yaml: "own_domains: [\"a.com,b.com\"]\n", wantErr: "own_domains: give a list of names"},
		{name: "own domains as map", yaml: "own_domains: {acme.com: yes}\n", wantErr: "own_domains: give a list of names"},
		{name: "typo is an error with its line", yaml: "collector_url: x\nflush_intervall: 5m\n", wantErr: "line 2: field flush_intervall not found"},
		{name: "list where one value goes", yaml: "\ncollector_url: [a, b]\n", wantErr: "line 2: collector_url: give a single value"},
		{name: "map for interfaces", yaml: "interfaces: {a: b}\n", wantErr: "interfaces: give a list of names"},
		{name: "not a mapping", yaml: "- a\n- b\n", wantErr: "cannot unmarshal"},
		{name: "syntax", yaml: "collector_url: [\n", wantErr: "agent.yaml: yaml:"},
		{name: "two documents", yaml: "user: a\n---\nuser: b\n", wantErr: "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := parseFile("agent.yaml", []byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[key]string{}
			for k, v := range l.values {
				if v != nil {
					got[key(k)] = v.text
					if !strings.HasPrefix(v.origin, "agent.yaml line ") {
						t.Errorf("origin %q does not name the file and line", v.origin)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFileOversized(t *testing.T) {
	_, err := parseFile("agent.yaml", []byte(strings.Repeat("#", maxFileSize+1)))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error = %v", err)
	}
}

func TestEnvLayer(t *testing.T) {
	env := map[string]string{
		"SHADOWMAP_AGENT_COLLECTOR":       " https://c.example.com ",
		"SHADOWMAP_AGENT_OWNER_EMAIL":     "",
		"SHADOWMAP_AGENT_UNKNOWN_DOMAINS": "1",
		"SHADOWMAP_AGENT_BOGUS":           "ignored",
	}
	l := envLayer(func(k string) string { return env[k] })
	if v := l.values[keyCollectorURL]; v == nil || v.text != "https://c.example.com" || v.origin != "SHADOWMAP_AGENT_COLLECTOR" {
		t.Errorf("collector = %+v", v)
	}
	if l.values[keyOwnerEmail] != nil {
		t.Error("an empty variable counts as set")
	}
	if v := l.values[keyUnknownDomains]; v == nil || v.text != "1" {
		t.Errorf("unknown domains = %+v", v)
	}
	if n := countSet(l); n != 2 {
		t.Errorf("%d settings from the environment, want 2", n)
	}
	if n := countSet(envLayer(nil)); n != 0 {
		t.Errorf("no environment set %d settings", n)
	}
}

func countSet(l layer) int {
	n := 0
	for _, v := range l.values {
		if v != nil {
			n++
		}
	}
	return n
}

func TestFlags(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"-collector", "https://c.example.com", "-unknown-domains", "-interval=90", "-config", "/x.yaml", "extra"}); err != nil {
		t.Fatal(err)
	}
	if fs.NArg() != 1 {
		t.Errorf("args after flags: %v", fs.Args())
	}
	l := f.layer()
	want := map[key]string{keyCollectorURL: "https://c.example.com", keyUnknownDomains: "true", keyFlushInterval: "90"}
	for k, text := range want {
		if v := l.values[k]; v == nil || v.text != text || v.origin != "-"+keys[k].flag {
			t.Errorf("%s = %+v, want %q", keys[k].label, v, text)
		}
	}
	if n := countSet(l); n != len(want) {
		t.Errorf("%d flags set, want %d: flags not given must not override", n, len(want))
	}
	if !f.config.set || f.config.text != "/x.yaml" {
		t.Errorf("config flag = %+v", f.config)
	}
	if fs.Lookup("enroll-secret") != nil {
		t.Error("a flag for the secret itself puts it on the command line, visible to every user")
	}
	if got := (*Flags)(nil).layer(); countSet(got) != 0 {
		t.Error("nil flags set something")
	}
}

func TestParsers(t *testing.T) {
	type result struct {
		value any
		err   bool
	}
	run := func(name string, f func(string) (any, error), cases map[string]result) {
		t.Run(name, func(t *testing.T) {
			for in, want := range cases {
				got, err := f(in)
				if (err != nil) != want.err {
					t.Errorf("%q: error = %v, want error %v", in, err, want.err)
					continue
				}
				if err == nil && !reflect.DeepEqual(got, want.value) {
					t.Errorf("%q = %v, want %v", in, got, want.value)
				}
			}
		})
	}
	run("duration", func(s string) (any, error) { return parseDuration(s) }, map[string]result{
		"300": {value: 300 * time.Second}, "5m": {value: 5 * time.Minute}, "1h30m": {value: 90 * time.Minute},
		"-5": {err: true}, "-1m": {err: true}, "five": {err: true}, "": {err: true}, "99999999999999": {err: true},
	})
	run("size", func(s string) (any, error) { return parseSize(s) }, map[string]result{
		"16777216": {value: int64(16 << 20)}, "16MiB": {value: int64(16 << 20)}, "16M": {value: int64(16 << 20)},
		"20 MB": {value: int64(20_000_000)}, "1gib": {value: int64(1 << 30)}, "512KiB": {value: int64(512 << 10)},
		"100b": {value: int64(100)}, "-1": {err: true}, "MiB": {err: true}, "1.5MiB": {err: true},
		"99999999999GiB": {err: true},
	})
	run("percent", func(s string) (any, error) { return parsePercent(s) }, map[string]result{
		"5": {value: 5}, "5%": {value: 5}, "x": {err: true},
	})
	run("bool", func(s string) (any, error) { return parseBool(s) }, map[string]result{
		"true": {value: true}, "YES": {value: true}, "1": {value: true}, "on": {value: true},
		"false": {value: false}, "0": {value: false}, "no": {value: false}, "2": {err: true}, "": {err: true},
	})
	run("resolver", func(s string) (any, error) { return parseResolverMode(s) }, map[string]result{
		"off": {value: ResolverOff}, "Forward": {value: ResolverForward}, "on": {err: true},
	})
	run("log level", func(s string) (any, error) { return parseLogLevel(s) }, map[string]result{
		"debug": {value: slog.LevelDebug}, "INFO": {value: slog.LevelInfo}, "warn": {value: slog.LevelWarn},
		"loud": {err: true},
	})
	run("interfaces", func(s string) (any, error) { return parseInterfaces(s) }, map[string]result{
		"en0, en1,,": {value: []string{"en0", "en1"}}, "": {value: []string(nil)},
	})
	run("text", func(s string) (any, error) { return parseText(s) }, map[string]result{
		"alice": {value: "alice"}, "a\nb": {err: true},
	})
}

func TestDefaultPaths(t *testing.T) {
	env := func(k string) string {
		if k == "ProgramData" {
			return `D:\PD`
		}
		return ""
	}
	tests := []struct {
		goos          string
		getenv        func(string) string
		config, state string
	}{
		{"linux", nil, "/etc/shadowmap/agent.yaml", "/var/lib/shadowmap-agent"},
		{"darwin", nil, "/Library/Application Support/shadowmap-agent/agent.yaml", "/Library/Application Support/shadowmap-agent"},
		{"windows", nil, `C:\ProgramData\shadowmap-agent\agent.yaml`, `C:\ProgramData\shadowmap-agent`},
		{"windows", env, `D:\PD\shadowmap-agent\agent.yaml`, `D:\PD\shadowmap-agent`},
		{"windows", func(string) string { return `D:\PD\` }, `D:\PD\shadowmap-agent\agent.yaml`, `D:\PD\shadowmap-agent`},
	}
	for _, tt := range tests {
		if got := DefaultConfigPathFor(tt.goos, tt.getenv); got != tt.config {
			t.Errorf("%s config = %q, want %q", tt.goos, got, tt.config)
		}
		if got := DefaultStateDirFor(tt.goos, tt.getenv); got != tt.state {
			t.Errorf("%s state = %q, want %q", tt.goos, got, tt.state)
		}
	}
}
