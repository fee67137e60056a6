package main

import (
	"fmt"
	"os"

	"github.com/flowd/flowd/internal/clidoc"
)

const versionUsage = `Usage: flowd version

Prints flowd's version, the commit it was built from (with "modified" when
the work tree had uncommitted changes) and the Go version.
`

func runVersion(args []string) error {
	c := newCmdFlags("version", versionUsage)
	if err := c.parse(args); err != nil {
		return err
	}
	if c.NArg() > 0 {
		return usagef("unexpected argument %q", c.Arg(0))
	}
	clidoc.WriteVersion(os.Stdout, "flowd")
	return nil
}

const completionUsage = `Usage: flowd completion bash|zsh|fish

Writes a completion script for the shell to stdout, made from the commands'
own flags. For example:

  flowd completion bash > /etc/bash_completion.d/flowd
  flowd completion zsh > "${fpath[1]}/_flowd"
  flowd completion fish > ~/.config/fish/completions/flowd.fish
`

func runCompletion(args []string) error {
	c := newCmdFlags("completion", completionUsage)
	if err := c.parse(args); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return usagef("want one shell: bash, zsh or fish")
	}
	if err := flowdDoc().Completion(os.Stdout, c.Arg(0)); err != nil {
		return usagef("%v", err)
	}
	return nil
}

const manUsage = `Usage: flowd man DIR

Writes flowd's man pages (flowd.1, flowd-replay.1, ...) into DIR, made from
the commands' own flags.
`

func runMan(args []string) error {
	c := newCmdFlags("man", manUsage)
	if err := c.parse(args); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return usagef("want one directory to write the man pages to")
	}
	names, err := flowdDoc().WriteMan(c.Arg(0))
	for _, n := range names {
		fmt.Println(n)
	}
	return err
}

const exitStatusText = "0: success. -h and --help are a success too.\n" +
	"1: a runtime failure: a damaged or unreadable capture, a replay cut short by a signal, a collector or a port that cannot be used.\n" +
	"2: a usage error: an unknown flag, a bad flag value, a missing or an unexpected argument (one line on stderr says which).\n" +
	"130: flowd replay got a second SIGINT or SIGTERM and exited at once."

// flowdDoc describes every command from its own flag set.
func flowdDoc() *clidoc.Prog {
	p := &clidoc.Prog{Name: "flowd", Summary: "packet-level flow tracking", Root: usage, Exit: exitStatusText}
	for _, c := range commands {
		cf := describe(c.run)
		if cf == nil {
			continue
		}
		names, flags := cf.groups()
		p.Cmds = append(p.Cmds, clidoc.Cmd{Path: c.name, Summary: c.summary, Usage: cf.usage, Groups: names, Flags: flags})
	}
	for _, name := range []string{"version", "completion", "man"} {
		var run func([]string) error
		var summary string
		switch name {
		case "version":
			run, summary = runVersion, "print the version, commit and Go version"
		case "completion":
			run, summary = runCompletion, "write a shell completion script"
		case "man":
			run, summary = runMan, "write the man pages"
		}
		cf := describe(run)
		names, flags := cf.groups()
		p.Cmds = append(p.Cmds, clidoc.Cmd{Path: name, Summary: summary, Usage: cf.usage, Groups: names, Flags: flags})
	}
	return p
}
