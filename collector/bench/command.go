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

// Command is `shadowmap bench ingest|inventory`.
func Command(stdout, stderr io.Writer) cli.Command {
	return cli.Command{
		Usage:   "bench ingest|inventory [flags]",
		Summary: "measure ingest throughput and inventory query time on this machine",
		Run: func(args []string) error {
			if len(args) == 0 {
				return errors.New("bench: ingest or inventory (see shadowmap bench ingest -h)")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			switch args[0] {
			case "ingest":
				return ingestCmd(ctx, stdout, stderr, args[1:])
			case "inventory":
				return inventoryCmd(ctx, stdout, stderr, args[1:])
			}
			return fmt.Errorf("bench: unknown benchmark %q (ingest or inventory)", args[0])
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
