package signatures

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize caps one catalog file. Catalog files are a few kilobytes; a
// bigger one is a mistake or an attack on whoever lints it.
const maxFileSize = 1 << 20

// Problem is one thing wrong with the catalog, located in a file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// ProblemsError is returned by Load when the catalog has problems.
type ProblemsError []Problem

func (e ProblemsError) Error() string {
	if len(e) == 1 {
		return e[0].String()
	}
	return fmt.Sprintf("%s (and %d more problems)", e[0], len(e)-1)
}

// Catalog is a loaded, validated catalog with its match indexes built.
type Catalog struct {
	Apps   []*App
	Noise  []NoiseEntry
	Scopes []ScopeRisk

	byID    map[string]*App
	domains domainIndex
	oauth   oauthIndex
	mail    mailIndex
	txt     txtIndex
	scopes  map[string]*ScopeRisk
}

// App returns the app with the given id, or nil.
func (c *Catalog) App(id string) *App { return c.byID[id] }

// Load reads a catalog laid out as apps/*.yaml, noise.yaml and scopes.yaml
// from fsys, validates it and builds the matchers. Any problem fails the
// load with a ProblemsError listing all of them.
func Load(fsys fs.FS) (*Catalog, error) {
	c, problems := load(fsys)
	if len(problems) > 0 {
		return nil, ProblemsError(problems)
	}
	return c, nil
}

// Lint reads and validates a catalog like Load and returns every problem
// found, sorted by file and line. An empty result means the catalog loads.
func Lint(fsys fs.FS) []Problem {
	_, problems := load(fsys)
	return problems
}

func load(fsys fs.FS) (*Catalog, []Problem) {
	var l linter
	c := &Catalog{byID: make(map[string]*App)}

	names, err := fs.Glob(fsys, "apps/*.yaml")
	if err != nil {
		l.add("apps", 0, "list app files: %v", err)
	}
	if len(names) == 0 {
		l.add("apps", 0, "no app files (apps/*.yaml)")
	}
	sort.Strings(names)
	for _, name := range names {
		app := l.readApp(fsys, name)
		if app == nil {
			continue
		}
		if prev := c.byID[app.ID]; prev != nil {
			l.add(name, app.line, "app id %q is already used by %s", app.ID, prev.file)
			continue
		}
		c.byID[app.ID] = app
		c.Apps = append(c.Apps, app)
	}
	c.Noise = l.readNoise(fsys, "noise.yaml")
	c.Scopes = l.readScopes(fsys, "scopes.yaml")

	l.checkOwnership(c)
	c.domains = buildDomainIndex(c.Apps, c.Noise)
	l.checkTenantExamples(c)
	c.oauth = buildOAuthIndex(c.Apps)
	c.mail = buildMailIndex(c.Apps)
	l.checkTXTOwnership(c)
	c.txt = buildTXTIndex(c.Apps)
	c.scopes = buildScopeIndex(c.Scopes)

	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i], l.problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return c, l.problems
}

// linter collects problems while the catalog is read.
type linter struct {
	problems []Problem
	fields   fieldChecker
}

func (l *linter) add(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// readFile reads one catalog file, parses it once into a node tree (kept
// for line numbers), rejects fields the catalog does not know, and decodes
// it into v.
func (l *linter) readFile(fsys fs.FS, name string, v any) (*yaml.Node, bool) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		l.add(name, 0, "read: %v", err)
		return nil, false
	}
	if len(data) > maxFileSize {
		l.add(name, 0, "file is %d bytes; the limit is %d", len(data), maxFileSize)
		return nil, false
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		l.addYAMLError(name, err)
		return nil, false
	}
	if len(root.Content) == 0 {
		l.add(name, 0, "file is empty")
		return nil, false
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		l.add(name, doc.Line, "the file must be a YAML mapping")
		return nil, false
	}
	known := true
	l.fields.check(doc, reflect.TypeOf(v), func(line int, msg string) {
		l.add(name, line, "%s", msg)
		known = false
	})
	if !known {
		return nil, false
	}
	if err := doc.Decode(v); err != nil {
		l.addYAMLError(name, err)
		return nil, false
	}
	return doc, true
}

// addYAMLError turns yaml's "yaml: line N: msg" errors into file:line
// problems, one per message.
func (l *linter) addYAMLError(name string, err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			line, rest := splitYAMLLine(msg)
			l.add(name, line, "%s", rest)
		}
		return
	}
	line, rest := splitYAMLLine(err.Error())
	l.add(name, line, "%s", rest)
}

func splitYAMLLine(msg string) (int, string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		if i := strings.IndexByte(msg, ':'); i >= 0 {
			return line, strings.TrimSpace(msg[i+1:])
		}
	}
	return 0, msg
}

// child returns the value node of key in a mapping node, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// itemLine returns the line of the i-th item of a sequence node, falling
// back to the sequence's own line.
func itemLine(seq *yaml.Node, i int) int {
	if seq == nil {
		return 0
	}
	if seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
		return seq.Content[i].Line
	}
	return seq.Line
}

func lineOf(n *yaml.Node, fallback int) int {
	if n == nil {
		return fallback
	}
	return n.Line
}

func (l *linter) readApp(fsys fs.FS, name string) *App {
	var app App
	doc, ok := l.readFile(fsys, name, &app)
	if !ok {
		return nil
	}
	app.file = name
	app.line = doc.Line
	doms := child(doc, "domains")
	for i := range app.Domains {
		app.Domains[i].line = itemLine(doms, i)
	}
	tens := child(doc, "tenants")
	for i := range app.Tenants {
		app.Tenants[i].line = itemLine(tens, i)
	}
	if app.Mail != nil {
		app.Mail.line = lineOf(child(doc, "mail"), doc.Line)
		subj := child(child(doc, "mail"), "subjects")
		for i := range app.Mail.Subjects {
			app.Mail.Subjects[i].line = itemLine(subj, i)
		}
	}
	if app.Identity != nil {
		app.Identity.line = lineOf(child(doc, "identity"), doc.Line)
	}
	txt := child(doc, "dns_txt")
	for i := range app.DNSTXT {
		app.DNSTXT[i].line = itemLine(txt, i)
	}
	stem := strings.TrimSuffix(path.Base(name), ".yaml")
	if !l.checkApp(&app, doc, stem) {
		return nil
	}
	return &app
}

func (l *linter) readNoise(fsys fs.FS, name string) []NoiseEntry {
	var f struct {
		Noise []NoiseEntry `yaml:"noise"`
	}
	doc, ok := l.readFile(fsys, name, &f)
	if !ok {
		return nil
	}
	seq := child(doc, "noise")
	seen := make(map[string]int)
	out := f.Noise[:0]
	for i, e := range f.Noise {
		e.file, e.line = name, itemLine(seq, i)
		d, err := normalizeDomain(e.Domain)
		if err != nil {
			l.add(name, e.line, "noise domain: %v", err)
			continue
		}
		e.Domain = d
		if !contains(noiseKinds, e.Kind) {
			l.add(name, e.line, "noise %s: kind %q is not one of %s", d, e.Kind, strings.Join(noiseKinds, ", "))
		}
		if first, dup := seen[d]; dup {
			l.add(name, e.line, "noise %s is listed twice (first at line %d)", d, first)
			continue
		}
		seen[d] = e.line
		out = append(out, e)
	}
	if len(out) == 0 {
		l.add(name, doc.Line, "the noise list is empty")
	}
	return out
}

func (l *linter) readScopes(fsys fs.FS, name string) []ScopeRisk {
	var f struct {
		Scopes []ScopeRisk `yaml:"scopes"`
	}
	doc, ok := l.readFile(fsys, name, &f)
	if !ok {
		return nil
	}
	seq := child(doc, "scopes")
	seen := make(map[string]int)
	out := f.Scopes[:0]
	for i, s := range f.Scopes {
		s.file, s.line = name, itemLine(seq, i)
		bad := false
		switch s.Provider {
		case "google", "microsoft":
		default:
			l.add(name, s.line, "scope %q: provider %q must be google or microsoft", s.Scope, s.Provider)
			bad = true
		}
		if strings.TrimSpace(s.Scope) == "" {
			l.add(name, s.line, "scope is empty")
			bad = true
		}
		if !contains([]string{"high", "medium", "low"}, s.Level) {
			l.add(name, s.line, "scope %q: level %q must be high, medium or low", s.Scope, s.Level)
			bad = true
		}
		if strings.TrimSpace(s.Reason) == "" {
			l.add(name, s.line, "scope %q has no reason", s.Scope)
			bad = true
		}
		key := scopeKey(s.Provider, s.Scope) + "|" + s.Class
		if first, dup := seen[key]; dup {
			l.add(name, s.line, "scope %q (%s) is listed twice (first at line %d)", s.Scope, s.Class, first)
			bad = true
		}
		seen[key] = s.line
		if !bad {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		l.add(name, doc.Line, "the scope table is empty")
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
