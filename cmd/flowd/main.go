// Command flowd tracks flows: it replays pcap files through the flow table,
// serves the AWS Network Firewall flow operations over a live table, generates
// sample traffic, and benchmarks itself.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

const usage = `flowd — packet-level flow tracking

Usage:
  flowd replay [flags] FILE...|-|DIR   read captures through the flow table, print the flows
  flowd serve  [flags]                 serve the flow operations API over a live flow table
  flowd watch  --iface NAME [flags]    capture live interfaces, print flows as they end (or the busiest)
  flowd gen    [flags]                 write deterministic sample traffic (pcap/pcapng) and its truth
  flowd bench  [flags]                 measure decode, table and replay speed
  flowd version                        version, commit and Go version
  flowd completion bash|zsh|fish       a shell completion script
  flowd man DIR                        write the man pages to DIR
  flowd help COMMAND                   show a command's flags

Run 'flowd COMMAND -h' for a command's flags.
Exit status: 0 success, 1 failure, 2 bad command line.
`

// command is one flowd command, for dispatch, completion and man pages.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

// commands are the commands that take flags, in the order help lists them.
var commands = []command{
	{"replay", "read captures through the flow table, print the flows", runReplay},
	{"serve", "serve the flow operations API over a live flow table", runServe},
	{"watch", "capture live interfaces, print flows as they end", runWatch},
	{"gen", "write deterministic sample traffic and its truth", runGen},
	{"bench", "measure decode, table and replay speed", runBench},
	{"bench report", "merge bench reports into the results file", func(args []string) error {
		return benchReport(args, os.Stdout, os.Stderr)
	}},
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "replay":
		err = runReplay(rest)
	case "serve":
		err = runServe(rest)
	case "watch":
		err = runWatch(rest)
	case "gen":
		err = runGen(rest)
	case "bench":
		err = runBench(rest)
	case "version", "--version", "-version":
		err = runVersion(rest)
	case "completion":
		err = runCompletion(rest)
	case "man":
		err = runMan(rest)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return run(append(rest, "-h"))
		}
		fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "flowd: unknown command %q\nRun 'flowd -h' for the commands.\n", cmd)
		return 2
	}
	return exitCode(cmd, err)
}

// exitCode reports err and returns the exit status: 0 success (and help),
// 2 a bad command line, 1 anything else.
func exitCode(cmd string, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		name := cmd
		if ue.cmd != "" {
			name = ue.cmd
		}
		fmt.Fprintf(os.Stderr, "flowd %s: %v\nRun 'flowd %s -h' for usage.\n", name, err, name)
		return 2
	case errors.Is(err, errLiveUsage):
		fmt.Fprintf(os.Stderr, "flowd %s: %v\n", cmd, err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "flowd %s: %v\n", cmd, err)
		return 1
	}
}
