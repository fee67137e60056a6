package main

import (
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/internal/clidoc"
)

func TestHelpOnStdout(t *testing.T) {
	cases := [][]string{{"-h"}, {"--help"}, {"help"}, {"capture", "-h"}, {"capture", "--help"},
		{"version", "-h"}, {"completion", "-h"}, {"man", "-h"}, {"help", "capture"}}
	for _, op := range operationNames() {
		cases = append(cases, []string{"network-firewall", op, "-h"}, []string{"network-firewall", op, "--help"})
	}
	for _, op := range ec2OperationNames() {
		cases = append(cases, []string{"ec2", op, "-h"}, []string{"ec2", op, "--help"})
	}
	for _, args := range cases {
		code, out, errs := flowctl(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") || errs != "" {
			t.Errorf("flowctl %q: exit %d, stdout %d bytes, stderr %q", args, code, len(out), errs)
		}
	}
	_, out, _ := flowctl(t, "network-firewall", "start-flow-capture", "-h")
	if !strings.Contains(out, " --flow-filters FILTER ") || !strings.Contains(out, "[--firewall-arn ARN]") || strings.Contains(out, "[--flow-filters") {
		t.Errorf("start-flow-capture synopsis: required flags bare, optional ones in brackets:\n%s", out)
	}
	if n := strings.Count(out, "default"); n != 2 { // --firewall-arn's and --output's, once each
		t.Errorf("start-flow-capture -h states %d defaults, want 2:\n%s", n, out)
	}
	_, out, _ = flowctl(t, "capture", "-h")
	if !strings.Contains(out, `(default "table")`) {
		t.Errorf("capture -h does not name its default output, table:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := flowctl(t, args...)
		if code != 0 || !strings.HasPrefix(out, "flowctl ") || !strings.Contains(out, "commit: ") || !strings.Contains(out, "go: go1.") {
			t.Errorf("flowctl %q: %d\n%s", args, code, out)
		}
	}
}

// TestExitCodes: network-firewall commands exit as the AWS CLI does;
// flowctl's own commands as flowd does.
func TestExitCodes(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{}, exitOwnUsage},
		{[]string{"--bogus"}, exitOwnUsage},
		{[]string{"frobnicate"}, exitOwnUsage},
		{[]string{"capture", "--bogus"}, exitOwnUsage},
		{[]string{"capture", "extra"}, exitOwnUsage},
		{[]string{"capture", "--min-age", "old"}, exitOwnUsage},
		{[]string{"capture", "--filter", "Nope=1"}, exitOwnUsage},
		{[]string{"completion"}, exitOwnUsage},
		{[]string{"completion", "tcsh"}, exitOwnUsage},
		{[]string{"version", "extra"}, exitOwnUsage},
		{[]string{"--endpoint-url", dead, "capture", "--wait"}, exitFailed},
		{[]string{"network-firewall"}, exitUsage},
		{[]string{"network-firewall", "frobnicate"}, exitUsage},
		{[]string{"network-firewall", "start-flow-capture", "--bogus"}, exitUsage},
		{[]string{"network-firewall", "describe-flow-operation"}, exitUsage},
		{[]string{"--endpoint-url", dead, "network-firewall", "list-flow-operations"}, exitOther},
		{[]string{"ec2"}, exitUsage},
		{[]string{"ec2", "frobnicate"}, exitUsage},
		{[]string{"ec2", "delete-flow-logs", "--bogus"}, exitUsage},
		{[]string{"--endpoint-url", dead, "ec2", "describe-flow-logs"}, exitOther},
	} {
		code, _, errs := flowctl(t, c.args...)
		if code != c.code {
			t.Errorf("flowctl %q: exit %d, want %d\n%s", c.args, code, c.code, errs)
		}
		if (code == exitUsage || code == exitOwnUsage) && len(c.args) > 0 && !strings.Contains(errs, "-h' for usage") {
			t.Errorf("flowctl %q: no pointer to -h:\n%s", c.args, errs)
		}
	}
}

// TestCompletionAndManCoverEveryFlag: every flag of every command is in
// each completion script and in the command's man page.
func TestCompletionAndManCoverEveryFlag(t *testing.T) {
	p := flowctlDoc()
	scripts := map[string]string{}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var b strings.Builder
		if err := p.Completion(&b, sh); err != nil {
			t.Fatal(err)
		}
		scripts[sh] = b.String()
	}
	dir := t.TempDir()
	if _, err := p.WriteMan(dir); err != nil {
		t.Fatal(err)
	}
	paths := []string{"capture"}
	for _, op := range operationNames() {
		paths = append(paths, "network-firewall "+op)
	}
	for _, op := range ec2OperationNames() {
		paths = append(paths, "ec2 "+op)
	}
	total := 0
	for _, path := range paths {
		fs, _ := describeCmd(strings.Fields(path)...)
		if fs == nil {
			t.Fatalf("%s: not described", path)
		}
		page, err := os.ReadFile(filepath.Join(dir, p.ManName(path)+".1"))
		if err != nil {
			t.Fatal(err)
		}
		fs.VisitAll(func(f *flag.Flag) {
			total++
			if !strings.Contains(scripts["bash"], " --"+f.Name) || !strings.Contains(scripts["zsh"], " --"+f.Name) {
				t.Errorf("%s --%s: not in the bash/zsh completion", path, f.Name)
			}
			if !strings.Contains(scripts["fish"], "-l "+f.Name+" ") {
				t.Errorf("%s --%s: not in the fish completion", path, f.Name)
			}
			if !strings.Contains(string(page), clidoc.Roff("--"+f.Name)) {
				t.Errorf("%s --%s: not in %s.1", path, f.Name, p.ManName(path))
			}
		})
	}
	if total < 40 {
		t.Errorf("only %d flags seen", total)
	}
}
