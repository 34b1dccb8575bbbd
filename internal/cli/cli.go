// Package cli is the little the shadowmap mains share: dispatching a
// subcommand and turning its error into an exit status.
package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// ErrReported is wrapped by errors a command has already explained to the
// user (lint problems, say): the exit status is 1 and nothing more is
// printed.
var ErrReported = errors.New("reported")

// Command is one subcommand.
type Command struct {
	Usage   string // "signatures lint|stats|match"
	Summary string // "check, measure and try the app signature catalog"
	Run     func(args []string) error
}

// Main runs the subcommand named by args[0] and returns the exit status:
// 0 on success, 1 when the command failed, 2 for a usage error.
func Main(prog string, stdout, stderr io.Writer, commands map[string]Command, args []string) int {
	if len(args) == 0 {
		printUsage(stderr, prog, commands)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		printUsage(stdout, prog, commands)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		printUsage(stderr, prog, commands)
		fmt.Fprintf(stderr, "%s: unknown command %q\n", prog, args[0])
		return 2
	}
	if err := cmd.Run(args[1:]); err != nil {
		if !errors.Is(err, ErrReported) {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		}
		return 1
	}
	return 0
}

func printUsage(w io.Writer, prog string, commands map[string]Command) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: %s <command> [arguments]\n\ncommands:\n", prog)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", commands[n].Usage, commands[n].Summary)
	}
	tw.Flush()
}

// Version is the `version` command of a program.
func Version(stdout io.Writer, prog, version string) Command {
	return Command{
		Usage:   "version",
		Summary: "print the version",
		Run: func([]string) error {
			_, err := fmt.Fprintln(stdout, prog, version)
			return err
		},
	}
}
