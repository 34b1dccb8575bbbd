package classify

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures"
)

const commandUsage = "usage: shadowmap mail classify [--json] FILE.eml...\n"

// Command is `shadowmap mail classify`: what each message file yields.
func Command(stdout, stderr io.Writer) cli.Command {
	return cli.Command{
		Usage:   "mail classify [--json] FILE.eml...",
		Summary: "show what the mail importer makes of message files",
		Run: func(args []string) error {
			if len(args) > 0 && args[0] == "classify" {
				args = args[1:]
			}
			return run(stdout, stderr, args)
		},
	}
}

func run(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("mail classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per message")
	fs.Usage = func() { fmt.Fprint(stderr, commandUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("mail classify: %w", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("mail classify: give at least one message file")
	}
	cat, err := signatures.Embedded()
	if err != nil {
		return fmt.Errorf("mail classify: loading the catalog: %w", err)
	}
	failed := 0
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "mail classify: %v\n", err)
			failed++
			continue
		}
		r := Classify(cat, f, Options{})
		f.Close()
		if *asJSON {
			out := struct {
				File string `json:"file"`
				Result
			}{path, r}
			if err := enc.Encode(out); err != nil {
				return err
			}
			continue
		}
		if err := printResult(stdout, path, r); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("mail classify: %d of %d files could not be read: %w", failed, fs.NArg(), cli.ErrReported)
	}
	return nil
}

// printResult writes one message's result for a person to read.
func printResult(w io.Writer, path string, r Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, v)
		}
	}
	fmt.Fprintf(tw, "%s\n", path)
	if r.Skipped != "" {
		row("skipped", r.Skipped)
	} else {
		row("kind", string(r.Kind))
	}
	row("app", r.AppID)
	row("identified by", r.By)
	row("vendor", r.Vendor)
	row("processor", r.Processor)
	if r.Currency != "" {
		row("amount", FormatAmount(r.AmountCents, r.Currency))
	}
	row("invoice number", r.InvoiceNumber)
	if r.PeriodStart != "" {
		row("period", r.PeriodStart+" to "+r.PeriodEnd)
	}
	row("plan", r.Plan)
	if r.Seats > 0 {
		row("seats", strconv.Itoa(r.Seats))
	}
	row("from", r.From)
	row("to", r.To)
	row("subject", r.Subject)
	if !r.Date.IsZero() {
		row("date", r.Date.UTC().Format("2006-01-02 15:04 UTC"))
	}
	row("message id", r.MessageID)
	return tw.Flush()
}

// FormatAmount prints minor units in the currency's own precision:
// "20.00 USD", "12000 JPY".
func FormatAmount(cents int64, currency string) string {
	if zeroDecimal[currency] {
		return fmt.Sprintf("%d %s", cents, currency)
	}
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, cents/100, cents%100, currency)
}
