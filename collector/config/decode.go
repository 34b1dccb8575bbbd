package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxFileBytes caps a configuration file: a real one is a few KiB.
const maxFileBytes = 1 << 20

// nodeBudget caps how many YAML nodes decoding visits, so that aliases
// expanding into aliases cannot make a small file take forever.
const nodeBudget = 10000

// maxProblems caps how many problems one file reports.
const maxProblems = 20

// Problem is one thing wrong in a configuration file.
type Problem struct {
	Line int // 1-based; 0 when the YAML parser gave none
	Msg  string
}

// FileError lists what is wrong in a configuration file, one
// "path:line: message" per line.
type FileError struct {
	Path     string
	Problems []Problem
}

func (e *FileError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Path)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
		b.WriteString(p.Msg)
	}
	return b.String()
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	periodType   = reflect.TypeFor[Period]()
)

// decodeFile reads one YAML document over cfg: keys present replace the
// values already there, keys absent (or null) leave them. Unknown and
// repeated keys and values of the wrong kind are problems, each with its
// line. where names the file in origins ("shadowmap.yaml").
func decodeFile(data []byte, where string, cfg *Config) []Problem {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: the defaults
		}
		return []Problem{syntaxProblem(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return []Problem{syntaxProblem(err)}
	default:
		return []Problem{{Line: extra.Line, Msg: "a second YAML document (after ---): put the whole configuration in one"}}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		root = doc.Content[0]
	}
	d := &decoder{where: where, cfg: cfg, budget: nodeBudget}
	d.value(root, reflect.ValueOf(cfg).Elem(), "")
	return d.problems
}

// yamlLine finds the line in the YAML parser's messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Msg: "bad YAML: " + m[2]}
	}
	return Problem{Msg: "bad YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	where    string
	cfg      *Config
	budget   int
	problems []Problem
}

func (d *decoder) fail(line int, format string, args ...any) {
	if len(d.problems) == maxProblems {
		d.problems = append(d.problems, Problem{Line: line, Msg: "too many problems; stopping here"})
	}
	if len(d.problems) > maxProblems {
		return
	}
	d.problems = append(d.problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// value decodes n into v; path is the dotted key path for messages.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 100 {
			d.fail(n.Line, "%s: alias refers to itself", path)
			return
		}
		n = n.Alias
	}
	if n == nil {
		return
	}
	d.budget--
	if d.budget == 0 {
		d.fail(n.Line, "the file expands to too many values (aliases within aliases?)")
	}
	if d.budget <= 0 {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // "key:" with no value keeps what was there
	}
	if path != "" {
		d.cfg.setOrigin(path, fmt.Sprintf("%s:%d", d.where, n.Line))
	}

	switch v.Type() {
	case durationType:
		if s, ok := d.scalar(n, path, "a duration such as 15s or 1h"); ok {
			dur, err := time.ParseDuration(s)
			if err != nil {
				d.fail(n.Line, "%s: want a duration such as 15s, 10m or 1h, got %q", path, s)
				return
			}
			v.SetInt(int64(dur))
		}
		return
	case periodType:
		if s, ok := d.scalar(n, path, "a period such as 90d or 13mo"); ok {
			p, err := ParsePeriod(s)
			if err != nil {
				d.fail(n.Line, "%s: %v", path, err)
				return
			}
			v.Set(reflect.ValueOf(p))
		}
		return
	}

	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n.Line, "%s: want a list (lines starting with -), got %s", path, kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		// Any scalar is a string: a port-like 8080 or an all-digit secret
		// stays as written. Secrets are never quoted back in messages.
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if _, ok := d.scalar(n, path, "true or false"); ok {
			var b bool
			if err := n.Decode(&b); err != nil {
				d.fail(n.Line, "%s: want true or false, got %q", path, n.Value)
				return
			}
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int64:
		if _, ok := d.scalar(n, path, "a whole number"); ok {
			// Decoded as any first: yaml would truncate 2.7 into an int.
			var x any
			i, isInt := int64(0), false
			if err := n.Decode(&x); err == nil {
				switch x := x.(type) {
				case int:
					i, isInt = int64(x), true
				case int64:
					i, isInt = x, true
				}
			}
			if !isInt || v.OverflowInt(i) {
				d.fail(n.Line, "%s: want a whole number, got %q", path, n.Value)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float64:
		if _, ok := d.scalar(n, path, "a number"); ok {
			var f float64
			if err := n.Decode(&f); err != nil {
				d.fail(n.Line, "%s: want a number, got %q", path, n.Value)
				return
			}
			v.SetFloat(f)
		}
	default:
		// A field type this decoder does not know: a bug here, not in
		// the file.
		d.fail(n.Line, "%s: cannot be set from a file (%s)", path, v.Type())
	}
}

// scalar returns n's text, or records that path wanted one.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, "%s: want %s, got %s", path, want, kindName(n))
		return "", false
	}
	return n.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mapping decodes a YAML mapping into the struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if path != "" {
			what = path
		}
		d.fail(n.Line, "%s: want keys and values (key: value), got %s", what, kindName(n))
		return
	}
	fields, names := yamlFields(v.Type())
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			d.fail(key.Line, "%s: a key must be a plain word", inWhere(path))
			continue
		}
		name := key.Value
		full := joinKey(path, name)
		if key.ShortTag() == "!!merge" {
			d.fail(key.Line, "merge keys (<<) are not supported%s: write the keys out", inSuffix(path))
			continue
		}
		if first, dup := seen[name]; dup {
			d.fail(key.Line, "%s is set twice (first on line %d)", full, first)
			continue
		}
		seen[name] = key.Line
		idx, ok := fields[name]
		if !ok {
			hint := ""
			if s := suggest(name, names); s != "" {
				hint = fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(key.Line, "unknown key %q%s%s (known keys: %s)", name, inSuffix(path), hint, strings.Join(names, ", "))
			continue
		}
		d.value(val, v.Field(idx), full)
	}
}

func joinKey(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func inSuffix(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

func inWhere(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// yamlFields maps a struct's yaml keys to field indexes, and lists the
// keys in declaration order.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	fields := make(map[string]int)
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	return fields, names
}

// suggest returns the known key closest to a mistyped one, or "".
func suggest(name string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3 // at most two edits away
	for _, k := range known {
		if norm(k) == norm(name) {
			return k
		}
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// AllKeys lists every key the configuration file accepts, dotted
// ("tls.cert_file", "enroll_secrets[].name"), for documentation checks.
func AllKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		fields, names := yamlFields(t)
		for _, name := range names {
			f := t.Field(fields[name])
			key := joinKey(prefix, name)
			keys = append(keys, key)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != periodType:
				walk(f.Type, key)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), key+"[]")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	sort.Strings(keys)
	return keys
}
