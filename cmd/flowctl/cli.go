package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/flowd/flowd/internal/clidoc"
)

// globalNames are the flags every command takes; help lists them apart.
var globalNames = map[string]bool{"endpoint-url": true, "region": true, "output": true, "profile": true}

// writeHelp writes a command's help: its text, its own flags (required
// ones first, as the synopsis shows them), then the global flags.
func writeHelp(w io.Writer, text string, fs *flag.FlagSet) {
	fmt.Fprint(w, text)
	var own, globals []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if globalNames[f.Name] {
			globals = append(globals, f)
		} else {
			own = append(own, f)
		}
	})
	for _, part := range []struct {
		title string
		flags []*flag.Flag
	}{{"Flags", own}, {"Global flags", globals}} {
		if len(part.flags) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", part.title)
		for _, f := range part.flags {
			clidoc.WriteFlag(w, f)
		}
	}
}

// synopsis is an operation's usage line: required flags bare, optional
// ones in brackets. path is the command, "network-firewall start-flow-capture".
func synopsis(path string, fs *flag.FlagSet, required []string) string {
	req := map[string]bool{}
	parts := []string{"flowctl [global flags] " + path}
	for _, r := range required {
		req[r] = true
		if f := fs.Lookup(r); f != nil {
			arg, _ := flag.UnquoteUsage(f)
			parts = append(parts, strings.TrimSpace("--"+r+" "+strings.ToUpper(arg)))
		}
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !req[f.Name] && !globalNames[f.Name] {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		arg, _ := flag.UnquoteUsage(fs.Lookup(n))
		parts = append(parts, "["+strings.TrimSpace("--"+n+" "+strings.ToUpper(arg))+"]")
	}
	return strings.Join(parts, " ")
}

// describing, when set, makes a command hand over its flag set instead of
// parsing it: completion and man pages learn the flags from the commands.
var (
	describeMu sync.Mutex
	describing func(fs *flag.FlagSet, usage string)
)

var errDescribed = errors.New("described")

// describeCmd returns the flag set and help text of a command line.
func describeCmd(args ...string) (*flag.FlagSet, string) {
	describeMu.Lock()
	defer describeMu.Unlock()
	var fs *flag.FlagSet
	var text string
	describing = func(f *flag.FlagSet, u string) { fs, text = f, u }
	defer func() { describing = nil }()
	run(context.Background(), args, io.Discard, io.Discard)
	return fs, text
}

const versionUsage = `Usage: flowctl version

Prints flowctl's version, the commit it was built from and the Go version.
`

const completionUsage = `Usage: flowctl completion bash|zsh|fish

Writes a completion script for the shell to stdout, made from the commands'
own flags. For example:

  flowctl completion bash > /etc/bash_completion.d/flowctl
  flowctl completion fish > ~/.config/fish/completions/flowctl.fish
`

const manUsage = `Usage: flowctl man DIR

Writes flowctl's man pages (flowctl.1, flowctl-capture.1, ...) into DIR.
`

// runOwn runs flowctl's own commands (not the AWS CLI's): version,
// completion and man.
func runOwn(name string, args []string, stdout io.Writer) error {
	text := map[string]string{"version": versionUsage, "completion": completionUsage, "man": manUsage}[name]
	fs := flag.NewFlagSet("flowctl "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if describing != nil {
		describing(fs, text)
		return errDescribed
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stdout, text, fs)
			return err
		}
		return ownUsageError(err.Error())
	}
	switch name {
	case "version":
		if fs.NArg() > 0 {
			return ownUsageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		}
		clidoc.WriteVersion(stdout, "flowctl")
	case "completion":
		if fs.NArg() != 1 {
			return ownUsageError("want one shell: bash, zsh or fish")
		}
		if err := flowctlDoc().Completion(stdout, fs.Arg(0)); err != nil {
			return ownUsageError(err.Error())
		}
	case "man":
		if fs.NArg() != 1 {
			return ownUsageError("want one directory to write the man pages to")
		}
		names, err := flowctlDoc().WriteMan(fs.Arg(0))
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return err
	}
	return nil
}

const exitStatusText = "0: success (-h and --help too).\n" +
	"network-firewall and ec2 commands exit as the AWS CLI does, so that scripts written for it work: 252 a bad command line or parameter, 254 the service answered with an error, 255 anything else (no connection...).\n" +
	"flowctl's own commands (capture, version, completion, man) and a bad top-level command exit as flowd does: 2 a bad command line, 1 a runtime failure (including a capture --wait that ended FAILED)."

// flowctlDoc describes every command from its own flag set.
func flowctlDoc() *clidoc.Prog {
	p := &clidoc.Prog{Name: "flowctl", Summary: "a client for flowd's AWS APIs", Root: usage, Exit: exitStatusText}
	add := func(path, summary string, args ...string) {
		fs, text := describeCmd(args...)
		if fs == nil {
			return
		}
		var own []*flag.Flag
		fs.VisitAll(func(f *flag.Flag) {
			if !globalNames[f.Name] {
				own = append(own, f)
			} else if len(p.Globals) < len(globalNames) && !hasFlag(p.Globals, f.Name) {
				p.Globals = append(p.Globals, f)
			}
		})
		c := clidoc.Cmd{Path: path, Summary: summary, Usage: text}
		if len(own) > 0 {
			c.Groups, c.Flags = []string{""}, [][]*flag.Flag{own}
		}
		p.Cmds = append(p.Cmds, c)
	}
	for _, op := range operationNames() {
		add("network-firewall "+op, "the "+netfwOps[op].api+" operation", "network-firewall", op)
	}
	for _, op := range ec2OperationNames() {
		add("ec2 "+op, "the EC2 "+ec2Ops[op].api+" operation", "ec2", op)
	}
	add("capture", "start a flow capture and print its flows", "capture")
	add("version", "print the version, commit and Go version", "version")
	add("completion", "write a shell completion script", "completion")
	add("man", "write the man pages", "man")
	return p
}

func hasFlag(fl []*flag.Flag, name string) bool {
	for _, f := range fl {
		if f.Name == name {
			return true
		}
	}
	return false
}
