// Package sigcmd implements the `shadowmap signatures` commands: lint a
// catalog, print its coverage, and try names against it. It is the only
// part of the catalog that writes to a terminal; the mains stay thin.
package sigcmd

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures"
)

// ErrProblems is returned by lint when the catalog has problems; they have
// been printed already, so it wraps cli.ErrReported.
var ErrProblems = fmt.Errorf("the catalog has problems: %w", cli.ErrReported)

// Env is what the commands read and write, so tests can run them.
type Env struct {
	Stdout, Stderr io.Writer
	// DirFS opens a catalog directory given on the command line.
	DirFS func(dir string) fs.FS
}

// OSEnv is the real terminal and file system.
func OSEnv() Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, DirFS: os.DirFS}
}

const usage = `usage: shadowmap signatures <command> [arguments]

commands:
  lint [DIR]            check the catalog (the embedded one, or DIR, a checkout's signatures/ folder)
  stats [--json] [DIR]  print catalog coverage
  match NAME...         show what the catalog makes of DNS names
`

// Command is the `signatures` command for a program's command table.
func Command(env Env) cli.Command {
	return cli.Command{
		Usage:   "signatures lint|stats|match",
		Summary: "check, measure and try the app signature catalog",
		Run:     func(args []string) error { return Run(env, args) },
	}
}

// Run runs one signatures command with its arguments.
func Run(env Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return errors.New("signatures: a command is required")
	}
	switch args[0] {
	case "lint":
		return lint(env, args[1:])
	case "stats":
		return stats(env, args[1:])
	case "match":
		return match(env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	fmt.Fprint(env.Stderr, usage)
	return fmt.Errorf("signatures: unknown command %q", args[0])
}

// source picks the catalog files: DIR when given, else the embedded set.
// Problems are printed with DIR in front so editors can jump to them.
func source(env Env, fsArgs []string) (fs.FS, string, error) {
	switch len(fsArgs) {
	case 0:
		return signatures.EmbeddedFS(), "signatures/", nil
	case 1:
		dir := strings.TrimSuffix(fsArgs[0], "/")
		return env.DirFS(dir), dir + "/", nil
	}
	return nil, "", fmt.Errorf("expected at most one catalog directory, got %d", len(fsArgs))
}

func lint(env Env, args []string) error {
	fl := flag.NewFlagSet("signatures lint", flag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	if err := fl.Parse(args); err != nil {
		return err
	}
	fsys, prefix, err := source(env, fl.Args())
	if err != nil {
		return err
	}
	problems := signatures.Lint(fsys)
	for _, p := range problems {
		p.File = prefix + p.File
		fmt.Fprintln(env.Stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(env.Stderr, "%d problems\n", len(problems))
		return ErrProblems
	}
	c, err := signatures.Load(fsys)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "ok: %d apps, %d noise entries, %d scopes\n", len(c.Apps), len(c.Noise), len(c.Scopes))
	return nil
}

// Stats is the coverage summary `signatures stats --json` prints.
type Stats struct {
	Apps          int            `json:"apps"`
	WithIdentity  int            `json:"with_identity"`
	WithMail      int            `json:"with_mail"`
	WithTenants   int            `json:"with_tenants"`
	WithOAuth     int            `json:"with_oauth"`
	WithSCIM      int            `json:"with_scim"`
	Domains       int            `json:"domains"`
	Noise         int            `json:"noise"`
	Scopes        int            `json:"scopes"`
	PerCategory   map[string]int `json:"per_category"`
	IdentityByCat map[string]int `json:"with_identity_per_category"`
}

// ComputeStats counts what the catalog covers.
func ComputeStats(c *signatures.Catalog) Stats {
	s := Stats{
		Apps:          len(c.Apps),
		Noise:         len(c.Noise),
		Scopes:        len(c.Scopes),
		PerCategory:   make(map[string]int),
		IdentityByCat: make(map[string]int),
	}
	for _, a := range c.Apps {
		s.PerCategory[a.Category]++
		s.Domains += len(a.Domains)
		if a.Identity != nil {
			s.WithIdentity++
			s.IdentityByCat[a.Category]++
			if a.Identity.SCIM.Supported == "yes" {
				s.WithSCIM++
			}
		}
		if a.Mail != nil {
			s.WithMail++
		}
		if len(a.Tenants) > 0 {
			s.WithTenants++
		}
		if a.OAuth != nil {
			s.WithOAuth++
		}
	}
	return s
}

func stats(env Env, args []string) error {
	fl := flag.NewFlagSet("signatures stats", flag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	asJSON := fl.Bool("json", false, "print JSON")
	if err := fl.Parse(args); err != nil {
		return err
	}
	fsys, _, err := source(env, fl.Args())
	if err != nil {
		return err
	}
	c, err := signatures.Load(fsys)
	if err != nil {
		return fmt.Errorf("load catalog (run `shadowmap signatures lint` for every problem): %w", err)
	}
	s := ComputeStats(c)
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "apps\t%d\n", s.Apps)
	fmt.Fprintf(tw, "with identity facts\t%d\n", s.WithIdentity)
	fmt.Fprintf(tw, "  of which SCIM\t%d\n", s.WithSCIM)
	fmt.Fprintf(tw, "with mail matchers\t%d\n", s.WithMail)
	fmt.Fprintf(tw, "with tenant patterns\t%d\n", s.WithTenants)
	fmt.Fprintf(tw, "with OAuth identifiers\t%d\n", s.WithOAuth)
	fmt.Fprintf(tw, "domains\t%d\n", s.Domains)
	fmt.Fprintf(tw, "noise entries\t%d\n", s.Noise)
	fmt.Fprintf(tw, "scope risk entries\t%d\n", s.Scopes)
	fmt.Fprintf(tw, "\ncategory\tapps\twith identity\n")
	cats := make([]string, 0, len(s.PerCategory))
	for k := range s.PerCategory {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	for _, k := range cats {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, s.PerCategory[k], s.IdentityByCat[k])
	}
	return tw.Flush()
}

func match(env Env, args []string) error {
	if len(args) == 0 {
		return errors.New("signatures match: give one or more names, e.g. acme.slack.com")
	}
	c, err := signatures.Embedded()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tAPP\tROLE\tTENANT\tMATCHED\tCOUNTS AS USE\n")
	for _, arg := range args {
		m := c.MatchDomain(arg)
		name := printable(arg)
		switch {
		case m.App != nil:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, m.App.ID, m.Role, dash(m.Tenant), m.Domain, yesNo(m.CountsAsUse()))
		case m.Noise != nil:
			fmt.Fprintf(tw, "%s\t(noise: %s)\t-\t-\t%s\tno\n", name, m.Noise.Kind, m.Domain)
		default:
			fmt.Fprintf(tw, "%s\t(no match)\t-\t-\t-\tno\n", name)
		}
	}
	return tw.Flush()
}

// printable quotes a name that would garble the table: empty, invalid
// UTF-8 or unprintable characters.
func printable(s string) string {
	if s == "" || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
