package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/shadowmap/shadowmap/internal/cli"
)

// Command is `shadowmap bench ingest|inventory|agent`.
func Command(stdout, stderr io.Writer) cli.Command {
	return cli.Command{
		Usage:   "bench ingest|inventory|agent [flags]",
		Summary: "measure ingest throughput, inventory query time, and the agent's memory and CPU on this machine",
		Run: func(args []string) error {
			if len(args) == 0 {
				return errors.New("bench: ingest, inventory or agent (see shadowmap bench ingest -h)")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			switch args[0] {
			case "ingest":
				return ingestCmd(ctx, stdout, stderr, args[1:])
			case "inventory":
				return inventoryCmd(ctx, stdout, stderr, args[1:])
			case "agent":
				return agentCmd(ctx, stdout, stderr, args[1:])
			}
			return fmt.Errorf("bench: unknown benchmark %q (ingest, inventory or agent)", args[0])
		},
	}
}

func ingestCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o IngestOptions
	fs.IntVar(&o.Agents, "agents", 500, "simulated agents to enroll")
	fs.IntVar(&o.Workers, "workers", 64, "concurrent uploads at most")
	fs.Float64Var(&o.Rate, "rate", 1000, "target batches per second (0: as fast as possible)")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "how long to send")
	fs.IntVar(&o.PerBatch, "sightings", 50, "sightings per batch")
	fs.StringVar(&o.DataDir, "data-dir", "", "keep the database here (default: a temp dir, removed)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (collector and load) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if !*asJSON {
		o.Progress = stderr
		fmt.Fprintf(stderr, "ingest: %d agents, %d workers, target %.0f batches/s of %d sightings for %s, SQLite over loopback\n",
			o.Agents, o.Workers, o.Rate, o.PerBatch, o.Duration)
	}
	res, err := Ingest(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "batches accepted   %d in %s\n", res.Batches, res.Duration.Round(time.Millisecond))
	fmt.Fprintf(stdout, "throughput         %.0f batches/s, %.0f sightings/s\n", res.BatchesPerS, res.SightingsPS)
	fmt.Fprintf(stdout, "latency            p50 %s, p99 %s, max %s\n", res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.Max.Round(time.Microsecond))
	fmt.Fprintf(stdout, "errors             %d %v\n", res.Errors, res.ErrorKinds)
	fmt.Fprintf(stdout, "database           %.1f MB\n", float64(res.DatabaseSize)/1e6)
	return nil
}

func inventoryCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o InventoryOptions
	fs.IntVar(&o.Apps, "apps", 2000, "apps with evidence")
	fs.IntVar(&o.People, "people", 20000, "people")
	fs.IntVar(&o.AppsPerUser, "apps-per-person", 15, "apps each person uses")
	fs.IntVar(&o.Runs, "runs", 30, "timed queries")
	fs.StringVar(&o.DataDir, "data-dir", "", "keep the database here (default: a temp dir, removed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Progress = stderr
	res, err := Inventory(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded             %d apps, %d people, %d evidence rows in %s\n", res.Apps, res.People, res.EvidenceRows, res.SeedTime.Round(time.Millisecond))
	fmt.Fprintf(stdout, "GET /api/v1/apps   p50 %s, p99 %s, max %s over %d runs\n", res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.Max.Round(time.Microsecond), res.Runs)
	return nil
}

func agentCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o AgentOptions
	fs.StringVar(&o.AgentBinary, "agent", "bin/shadowmap-agent", "the shadowmap-agent binary to measure")
	fs.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long to send lookups")
	fs.IntVar(&o.Rate, "rate", 1000, "DNS lookups per second, sent on loopback")
	fs.DurationVar(&o.Interval, "interval", time.Minute, "the agent's spool and upload interval")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(stderr, "agent: %s capturing on lo, %d lookups/s for %s, uploading to a local collector every %s\n", o.AgentBinary, o.Rate, o.Duration, o.Interval)
		o.Progress = func(s AgentSample) {
			fmt.Fprintf(stderr, "  %6s  rss %5.1f MB  peak %5.1f MB  cpu %s  sent %d\n",
				s.Elapsed.Round(time.Second), float64(s.RSSKiB)/1024, float64(s.HWMKiB)/1024, s.CPU.Round(10*time.Millisecond), s.Sent)
		}
	}
	res, err := Agent(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "lookups sent       %d in %s\n", res.LookupsSent, res.Duration.Round(time.Second))
	fmt.Fprintf(stdout, "agent RSS          %.1f MB at the end, %.1f MB at most after the first minute\n", float64(res.RSSKiB)/1024, float64(res.PeakRSSKiB)/1024)
	fmt.Fprintf(stdout, "agent peak (HWM)   %.1f MB over the whole run, start-up included\n", float64(res.HWMKiB)/1024)
	fmt.Fprintf(stdout, "agent CPU          %.2f%% of one core\n", 100*res.CPUShare)
	fmt.Fprintf(stdout, "apps in inventory  %d (looked up %d)\n", res.AppsInInventory, res.AppsLookedUp)
	return nil
}
