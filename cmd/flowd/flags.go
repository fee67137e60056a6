package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/flowd/flowd/internal/clidoc"
)

// Groups of flags in help and man pages.
const (
	groupGeneral   = ""
	groupInput     = "Input"
	groupOutput    = "Output"
	groupSelect    = "Selecting flows"
	groupTable     = "Table and timeouts"
	groupEmergency = "Emergency (table full) timeouts"
	groupLive      = "Live capture"
	groupExport    = "Export (IPFIX, NetFlow v9)"
	groupFlowLogs  = "VPC flow logs"
	groupAPI       = "API"
	groupAdvanced  = "Advanced"
)

// cmdFlags is a command's flag set plus the group each flag belongs to. Help
// text, shell completion and man pages are all made from it, so they list
// exactly the flags the command parses.
type cmdFlags struct {
	*flag.FlagSet
	cmd   string // "replay", "bench report"
	usage string // the text above the flags
	help  io.Writer
	group map[string]string // flag name → group
	order []string          // groups in the order the command first used them
	cur   string
}

// newCmdFlags makes the flag set of command cmd; usage is the text help
// shows above the flags. The flag package itself prints nothing: parse
// reports errors in one line and help goes to stdout.
func newCmdFlags(cmd, usage string) *cmdFlags {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, cmd: cmd, usage: usage, help: os.Stdout, group: map[string]string{}}
}

// section puts the flags registered from now on into group g; the flags
// registered before it keep the group that was current then.
func (c *cmdFlags) section(g string) {
	c.settle()
	c.cur = g
	if !slices.Contains(c.order, g) {
		c.order = append(c.order, g)
	}
}

// settle gives every flag not yet grouped the current group.
func (c *cmdFlags) settle() {
	c.VisitAll(func(f *flag.Flag) {
		if _, ok := c.group[f.Name]; !ok {
			c.group[f.Name] = c.cur
		}
	})
}

// groups returns the flags by group and by name. The groups come in the
// order the command registered them, its own flags before the shared ones,
// so what it is used for comes first; ungrouped flags lead and the
// advanced ones close.
func (c *cmdFlags) groups() (names []string, flags [][]*flag.Flag) {
	c.settle()
	by := map[string][]*flag.Flag{}
	c.VisitAll(func(f *flag.Flag) { by[c.group[f.Name]] = append(by[c.group[f.Name]], f) })
	order := []string{groupGeneral}
	for _, g := range c.order {
		if g != groupGeneral && g != groupAdvanced {
			order = append(order, g)
		}
	}
	for _, g := range append(order, groupAdvanced) {
		if len(by[g]) > 0 {
			names = append(names, g)
			flags = append(flags, by[g])
			delete(by, g)
		}
	}
	return names, flags
}

// writeHelp writes the usage text and the flags by group.
func (c *cmdFlags) writeHelp(w io.Writer) {
	fmt.Fprint(w, c.usage)
	names, flags := c.groups()
	for i, g := range names {
		if g == groupGeneral {
			g = "Flags"
		}
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, f := range flags[i] {
			clidoc.WriteFlag(w, f)
		}
	}
}

// errUsage marks a bad command line: exit status 2, with a one-line reason
// and a pointer to the command's help.
var errUsage = errors.New("usage")

// usageError is a bad command line of command cmd ("" until run fills it).
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef is a usage error: an unknown or bad flag value, a missing or an
// unexpected argument.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// describing, when set, makes parse hand over the flag set instead of
// parsing: that is how completion and man pages learn each command's flags
// from the command itself.
var (
	describeMu sync.Mutex
	describing func(*cmdFlags)
)

// errDescribed stops a command once its flags have been described.
var errDescribed = errors.New("described")

// parse parses args. -h or --help writes the help to c.help (stdout) and
// returns flag.ErrHelp; a bad flag is a usage error.
func (c *cmdFlags) parse(args []string) error {
	if describing != nil {
		describing(c)
		return errDescribed
	}
	err := c.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		c.writeHelp(c.help)
		return flag.ErrHelp
	}
	return &usageError{cmd: c.cmd, msg: err.Error()}
}

// describe returns the flags of command run, without running it.
func describe(run func([]string) error) *cmdFlags {
	describeMu.Lock()
	defer describeMu.Unlock()
	var got *cmdFlags
	describing = func(c *cmdFlags) { got = c }
	defer func() { describing = nil }()
	run(nil)
	return got
}
