package agent

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/capture"
	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/internal/cli"
	"github.com/shadowmap/shadowmap/signatures"
)

// ReplayCommand is `shadowmap-agent replay FILE`: the agent's pipeline over
// a capture file, printing the apps found. People use it to check what the
// agent would report from a capture; tests and benchmarks drive it too.
func ReplayCommand(stdout, stderr io.Writer) cli.Command {
	return cli.Command{
		Usage:   "replay [--json] [--user NAME] FILE.pcap",
		Summary: "run the agent's matching over a capture file and print the apps found",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("replay", flag.ContinueOnError)
			fs.SetOutput(stderr)
			asJSON := fs.Bool("json", false, "print JSON")
			user := fs.String("user", "", "OS user to attribute the sightings to")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return errors.New("replay: give one capture file (pcap or pcapng)")
			}
			f, err := os.Open(fs.Arg(0))
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			defer f.Close()
			c, err := signatures.Embedded()
			if err != nil {
				return err
			}
			rep, err := Replay(f, c, *user)
			if err != nil {
				fmt.Fprintln(stderr, "warning:", err) // a cut-off capture still reports what it read
			}
			if *asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "APP\tNAME\tCOUNT\tDNS\tSNI\tDOMAINS\tTENANTS\n")
			for _, a := range rep.Apps {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%v\t%v\n", a.App, a.Name, a.Count, a.DNS, a.SNI, a.Domains, a.Tenants)
			}
			tw.Flush()
			fmt.Fprintf(stderr, "%d packets, %d DNS messages, %d names, %d server names, %d errors; %d names matched an app, %d noise, %d static or marketing, %d unknown (dropped)\n",
				rep.Capture.Packets, rep.Capture.DNSMessages, rep.Capture.Names, rep.Capture.SNINames, rep.Capture.Errors.Total(),
				rep.Match.Matched, rep.Match.Noise, rep.Match.NotUse, rep.Match.Unmatched)
			return nil
		},
	}
}

// StatusCommand is `shadowmap-agent status`: the running agent's health
// for a person at the laptop.
func StatusCommand(stdout, stderr io.Writer) cli.Command {
	return cli.Command{
		Usage:   "status [--state-dir DIR]",
		Summary: "show what the running agent has seen today and what waits to be sent",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("status", flag.ContinueOnError)
			fs.SetOutput(stderr)
			dir := fs.String("state-dir", DefaultStateDir(), "the agent's state directory")
			if err := fs.Parse(args); err != nil {
				return err
			}
			// The service state first: it answers "is it running?" even
			// when the agent never wrote a status.
			state, serr := service.ServiceState()
			if serr != nil {
				state = "unknown (" + serr.Error() + ")"
			}
			fmt.Fprintf(stdout, "service          %s\n", state)
			st, err := ReadStatus(*dir)
			if err != nil {
				return err
			}
			PrintStatus(stdout, st, time.Now())
			return nil
		},
	}
}

// DefaultStateDir is where the agent keeps its spool, enrollment and
// status: the OS's place for a service's state.
func DefaultStateDir() string { return config.DefaultStateDir(os.Getenv) }

// LiveSource is the agent's packet source on this machine: live capture on
// the given interfaces (all when empty), DNS and TLS/QUIC server names. Its
// health goes to report (nil ignores it) every half minute; pace (nil for
// none) is called after every packet, for the CPU budget.
func LiveSource(interfaces []string, log *slog.Logger, report func(SourceHealth), pace func(context.Context)) Source {
	if report == nil {
		report = func(SourceHealth) {}
	}
	return func(ctx context.Context, emit func(Name)) error {
		onStatus := func(st capture.LiveStatus) {
			state := "running"
			if len(st.Interfaces) == 0 {
				state = "degraded"
			}
			report(SourceHealth{State: state, Packets: st.Stats.Packets, Drops: st.Stats.Dropped, Interfaces: st.Interfaces})
		}
		stats, err := capture.Live(ctx, capture.LiveOptions{Interfaces: interfaces, SNI: SNI, Logger: log, OnStatus: onStatus, Pace: pace}, func(o capture.Observation) {
			src := aggregate.SourceDNS
			if o.Source == capture.SourceSNI {
				src = aggregate.SourceSNI
			}
			emit(Name{Name: o.Name, Source: src, Time: o.Time})
		})
		h := SourceHealth{State: "stopped", Packets: stats.Packets, Drops: stats.Dropped}
		if err != nil {
			h.LastError = err.Error()
			if errors.Is(err, os.ErrPermission) {
				h.State = "not_permitted"
			}
		}
		report(h)
		return err
	}
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
