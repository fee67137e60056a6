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
  flowd replay [flags] FILE...   read pcap/pcapng files through the flow table, print the flows
  flowd serve  [flags]           serve the flow operations API over a live flow table
  flowd watch  --iface NAME      capture live interfaces, print flows as they end (or the busiest)
  flowd gen    [flags]           write deterministic sample traffic (pcap/pcapng) and its truth
  flowd bench  [flags]           measure decode, table and replay speed
  flowd help COMMAND             show a command's flags

Run 'flowd COMMAND -h' for a command's flags.
`

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
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return run([]string{rest[0], "-h"})
		}
		fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "flowd: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errLiveUsage):
		fmt.Fprintf(os.Stderr, "flowd %s: %v\n", cmd, err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "flowd %s: %v\n", cmd, err)
		return 1
	}
}

// errUsage marks an error the flag package already reported with the usage.
var errUsage = errors.New("usage")

// parseFlags parses a command's flags. It returns flag.ErrHelp for -h (exit
// 0) and errUsage for a bad flag, which fs has already reported (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return errUsage
	}
	return err
}
