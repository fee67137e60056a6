// Package clidoc makes shell completion scripts and man pages from the
// commands' own flag sets, so that they list exactly what the commands
// parse, and says which build a binary is. flowd and flowctl share it.
package clidoc

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Cmd is one command as completion and man pages see it.
type Cmd struct {
	Path    string // "replay", "bench report", "network-firewall start-flow-capture"
	Summary string
	Usage   string // the text above the flags in help
	Groups  []string
	Flags   [][]*flag.Flag // by group
}

// Prog is a program and its commands; globals are flags every command
// takes (flowctl's), root the program's own usage text.
type Prog struct {
	Name    string
	Summary string
	Root    string
	Globals []*flag.Flag
	Cmds    []Cmd
	Exit    string // the EXIT STATUS section, one paragraph per line
}

// DashName is how help spells a flag: -o for one letter, --name otherwise.
func DashName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// DefaultText is a flag's default as help shows it, "" when it is the zero
// value of its type.
func DefaultText(f *flag.Flag) string {
	switch f.DefValue {
	case "", "false", "0", "0s", "[]":
		return ""
	}
	if t := reflect.TypeOf(f.Value); t.Kind() == reflect.Pointer {
		z := reflect.New(t.Elem()).Interface().(flag.Value)
		if z.String() == f.DefValue {
			return ""
		}
	}
	if _, ok := f.Value.(interface{ Type() string }); !ok && isStringFlag(f) {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// WriteFlag writes one flag as --help lists it: its name and argument on
// one line, its usage and default indented on the next.
func WriteFlag(w io.Writer, f *flag.Flag) {
	arg, usage := flag.UnquoteUsage(f)
	line := "  " + DashName(f.Name)
	if arg != "" {
		line += " " + arg
	}
	if def := DefaultText(f); def != "" {
		usage += " (default " + def + ")"
	}
	fmt.Fprintf(w, "%s\n      %s\n", line, usage)
}

func isStringFlag(f *flag.Flag) bool {
	return reflect.TypeOf(f.Value).String() == "*flag.stringValue"
}

// takesValue says whether a flag needs an argument (every flag but booleans).
func takesValue(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// children returns the words that may follow node ("" for the program) on
// a command line: the next word of every command below it.
func (p *Prog) children(node string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Cmds {
		rest, ok := strings.CutPrefix(c.Path, node)
		if node != "" {
			if !ok || !strings.HasPrefix(rest, " ") {
				continue
			}
			rest = rest[1:]
		}
		w, _, _ := strings.Cut(rest, " ")
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// nodes returns every command path and every prefix of one, longest first.
func (p *Prog) nodes() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Cmds {
		words := strings.Fields(c.Path)
		for i := 1; i <= len(words); i++ {
			n := strings.Join(words[:i], " ")
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func (p *Prog) cmd(path string) *Cmd {
	for i := range p.Cmds {
		if p.Cmds[i].Path == path {
			return &p.Cmds[i]
		}
	}
	return nil
}

// flagWords returns node's flags (and the globals) as typed on a command line.
func (p *Prog) flagWords(node string) []string {
	var out []string
	for _, f := range p.Globals {
		out = append(out, "--"+f.Name)
	}
	if c := p.cmd(node); c != nil {
		for _, g := range c.Flags {
			for _, f := range g {
				out = append(out, DashName(f.Name))
			}
		}
	}
	return out
}

// valueFlags lists every flag that takes a value, so that the bash script
// can skip flag values when it looks for the command words.
func (p *Prog) valueFlags() []string {
	seen := map[string]bool{}
	add := func(f *flag.Flag) {
		if takesValue(f) && !seen[f.Name] {
			seen[f.Name] = true
		}
	}
	for _, f := range p.Globals {
		add(f)
	}
	for _, c := range p.Cmds {
		for _, g := range c.Flags {
			for _, f := range g {
				add(f)
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, "-"+n, "--"+n)
	}
	sort.Strings(out)
	return out
}

func (p *Prog) bash(w io.Writer) {
	fn := "_" + strings.ReplaceAll(p.Name, "-", "_")
	fmt.Fprintf(w, "# bash completion for %s; made by '%s completion bash'.\n", p.Name, p.Name)
	fmt.Fprintf(w, "%s() {\n", fn)
	fmt.Fprintf(w, "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" skip=0 w i words=\"\"\n")
	fmt.Fprintf(w, "    local valued=\" %s \"\n", strings.Join(p.valueFlags(), " "))
	fmt.Fprintf(w, "    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	fmt.Fprintf(w, "        w=\"${COMP_WORDS[i]}\"\n")
	fmt.Fprintf(w, "        if ((skip)); then skip=0; continue; fi\n")
	fmt.Fprintf(w, "        case \"$w\" in\n")
	fmt.Fprintf(w, "            *=*) ;;\n")
	fmt.Fprintf(w, "            -*) [[ \"$valued\" == *\" $w \"* ]] && skip=1 ;;\n")
	fmt.Fprintf(w, "            *) path=\"${path:+$path }$w\" ;;\n")
	fmt.Fprintf(w, "        esac\n")
	fmt.Fprintf(w, "    done\n")
	fmt.Fprintf(w, "    if ((skip)); then COMPREPLY=($(compgen -f -- \"$cur\")); return; fi\n")
	fmt.Fprintf(w, "    case \"$path\" in\n")
	for _, n := range p.nodes() {
		fmt.Fprintf(w, "        %q) words=%q ;;\n", n, strings.Join(append(p.children(n), p.flagWords(n)...), " "))
		fmt.Fprintf(w, "        %q*) words=%q ;;\n", n+" ", strings.Join(p.flagWords(n), " "))
	}
	fmt.Fprintf(w, "        \"\") words=%q ;;\n", strings.Join(append(p.children(""), p.flagWords("")...), " "))
	fmt.Fprintf(w, "    esac\n")
	fmt.Fprintf(w, "    if [[ \"$cur\" == -* || -z \"$path\" ]]; then\n")
	fmt.Fprintf(w, "        COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n")
	fmt.Fprintf(w, "    else\n")
	fmt.Fprintf(w, "        COMPREPLY=($(compgen -W \"$words\" -- \"$cur\") $(compgen -f -- \"$cur\"))\n")
	fmt.Fprintf(w, "    fi\n")
	fmt.Fprintf(w, "}\n")
	fmt.Fprintf(w, "complete -o filenames -F %s %s\n", fn, p.Name)
}

func (p *Prog) zsh(w io.Writer) {
	fmt.Fprintf(w, "#compdef %s\n# zsh completion for %s; made by '%s completion zsh'. It uses zsh's\n# bash completion layer.\n", p.Name, p.Name, p.Name)
	fmt.Fprintf(w, "autoload -U +X bashcompinit && bashcompinit\n")
	p.bash(w)
}

// fishCond is the fish condition that the words of node have been typed.
func fishCond(node string) string {
	if node == "" {
		return "__fish_use_subcommand"
	}
	var parts []string
	for _, word := range strings.Fields(node) {
		parts = append(parts, "__fish_seen_subcommand_from "+word)
	}
	return strings.Join(parts, "; and ")
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func (p *Prog) fish(w io.Writer) {
	fmt.Fprintf(w, "# fish completion for %s; made by '%s completion fish'.\n", p.Name, p.Name)
	fmt.Fprintf(w, "complete -c %s -f\n", p.Name)
	flagLine := func(cond string, f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		opt := "-l " + f.Name
		if len(f.Name) == 1 {
			opt = "-s " + f.Name
		}
		req := ""
		if takesValue(f) {
			req = " -r -F"
		}
		fmt.Fprintf(w, "complete -c %s -n %s %s%s -d %s\n", p.Name, fishQuote(cond), opt, req, fishQuote(firstLine(usage)))
	}
	for _, f := range p.Globals {
		flagLine("true", f)
	}
	for _, n := range append([]string{""}, p.nodes()...) {
		for _, child := range p.children(n) {
			desc := child
			if c := p.cmd(strings.TrimSpace(n + " " + child)); c != nil {
				desc = c.Summary
			}
			cond := fishCond(n)
			if n != "" {
				cond += "; and not __fish_seen_subcommand_from " + strings.Join(p.children(n), " ")
			}
			fmt.Fprintf(w, "complete -c %s -n %s -a %s -d %s\n", p.Name, fishQuote(cond), child, fishQuote(desc))
		}
	}
	for _, c := range p.Cmds {
		cond := fishCond(c.Path)
		if kids := p.children(c.Path); len(kids) > 0 {
			cond += "; and not __fish_seen_subcommand_from " + strings.Join(kids, " ")
		}
		for _, g := range c.Flags {
			for _, f := range g {
				flagLine(cond, f)
			}
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Roff escapes text for a man page: backslashes, dashes (so that flags
// copy as ASCII), characters beyond ASCII, and a leading dot or quote.
func Roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var b strings.Builder
	for _, r := range s {
		if r > 127 {
			fmt.Fprintf(&b, `\[u%04X]`, r)
			continue
		}
		b.WriteRune(r)
	}
	s = b.String()
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// ManName is the man page name of a command path: "flowd-bench-report".
func (p *Prog) ManName(path string) string {
	if path == "" {
		return p.Name
	}
	return p.Name + "-" + strings.ReplaceAll(path, " ", "-")
}

// WriteMan writes one man page per command and one for the program into dir.
func (p *Prog) WriteMan(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	date := time.Now().UTC().Format("2006-01-02")
	if t, ok := BuildTime(); ok {
		date = t.Format("2006-01-02") // the same page for the same build
	}
	var written []string
	write := func(path string, body func(w io.Writer)) error {
		name := filepath.Join(dir, p.ManName(path)+".1")
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, ".TH %s 1 %s %q %q\n", strings.ToUpper(p.ManName(path)), date, p.Name+" "+VersionString(), p.Name)
		body(f)
		if err := f.Close(); err != nil {
			return err
		}
		written = append(written, name)
		return nil
	}
	flagsSection := func(w io.Writer, groups []string, flags [][]*flag.Flag) {
		for i, g := range groups {
			if g == "" {
				g = "Flags"
			}
			fmt.Fprintf(w, ".SS %s\n", Roff(g))
			for _, f := range flags[i] {
				arg, usage := flag.UnquoteUsage(f)
				if arg != "" {
					fmt.Fprintf(w, ".TP\n.BI \"%s \" %s\n", Roff(DashName(f.Name)), Roff(arg))
				} else {
					fmt.Fprintf(w, ".TP\n.B %s\n", Roff(DashName(f.Name)))
				}
				if def := DefaultText(f); def != "" {
					usage += " (default " + def + ")"
				}
				fmt.Fprintf(w, "%s\n", Roff(usage))
			}
		}
	}
	exit := func(w io.Writer) {
		fmt.Fprintf(w, ".SH EXIT STATUS\n")
		for _, para := range strings.Split(p.Exit, "\n") {
			fmt.Fprintf(w, ".PP\n%s\n", Roff(para))
		}
	}
	seeAlso := func(w io.Writer, self string) {
		var refs []string
		for _, c := range append([]Cmd{{Path: ""}}, p.Cmds...) {
			if c.Path != self {
				refs = append(refs, fmt.Sprintf(".BR %s (1)", Roff(p.ManName(c.Path))))
			}
		}
		fmt.Fprintf(w, ".SH SEE ALSO\n%s\n", strings.Join(refs, ",\n"))
	}
	if err := write("", func(w io.Writer) {
		fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", p.Name, Roff(p.Summary))
		fmt.Fprintf(w, ".SH DESCRIPTION\n.nf\n%s\n.fi\n", Roff(strings.TrimRight(p.Root, "\n")))
		if len(p.Globals) > 0 {
			fmt.Fprintf(w, ".SH GLOBAL FLAGS\n")
			flagsSection(w, []string{""}, [][]*flag.Flag{p.Globals})
		}
		exit(w)
		seeAlso(w, "")
	}); err != nil {
		return written, err
	}
	for _, c := range p.Cmds {
		if err := write(c.Path, func(w io.Writer) {
			fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", Roff(p.ManName(c.Path)), Roff(c.Summary))
			fmt.Fprintf(w, ".SH DESCRIPTION\n.nf\n%s\n.fi\n", Roff(strings.TrimRight(c.Usage, "\n")))
			fmt.Fprintf(w, ".SH OPTIONS\n")
			flagsSection(w, c.Groups, c.Flags)
			if len(p.Globals) > 0 {
				flagsSection(w, []string{"Global flags"}, [][]*flag.Flag{p.Globals})
			}
			exit(w)
			seeAlso(w, c.Path)
		}); err != nil {
			return written, err
		}
	}
	return written, nil
}

// Completion writes the script for shell.
func (p *Prog) Completion(w io.Writer, shell string) error {
	switch shell {
	case "bash":
		p.bash(w)
	case "zsh":
		p.zsh(w)
	case "fish":
		p.fish(w)
	default:
		return fmt.Errorf("unknown shell %q: want bash, zsh or fish", shell)
	}
	return nil
}
