// Command flowctl is a client for flowd's AWS APIs, built on the official
// aws-sdk-go-v2 clients. Its network-firewall and ec2 commands mirror the AWS CLI's
// (same names, flags, shorthand and JSON syntax, auto-pagination, output
// formats), so that what works against flowd works against AWS and back;
// flowctl capture is a shortcut for a person at a terminal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
)

const usage = `flowctl — a client for flowd (and for AWS: the same commands work there)

Usage:
  flowctl [global flags] network-firewall start-flow-capture --flow-filters FILTER... [--firewall-arn ARN] [flags]
  flowctl [global flags] network-firewall start-flow-flush --flow-filters FILTER... [--firewall-arn ARN] [flags]
  flowctl [global flags] network-firewall describe-flow-operation --flow-operation-id ID [--firewall-arn ARN]
  flowctl [global flags] network-firewall list-flow-operations [--flow-operation-type T] [--firewall-arn ARN]
  flowctl [global flags] network-firewall list-flow-operation-results --flow-operation-id ID [--firewall-arn ARN]
  flowctl [global flags] ec2 create-flow-logs --resource-type T --resource-ids ID... [--traffic-type T] [flags]
  flowctl [global flags] ec2 describe-flow-logs [--flow-log-ids ID...] [--filter FILTER...] [flags]
  flowctl [global flags] ec2 delete-flow-logs --flow-log-ids ID...
  flowctl [global flags] capture [--filter FILTER]... [--min-age N] [--wait]
  flowctl version | --version
  flowctl completion bash|zsh|fish
  flowctl man DIR

--firewall-arn defaults to flowd's firewall (the AWS CLI requires it).

Global flags (also accepted after the command):
  --endpoint-url URL   endpoint (default $AWS_ENDPOINT_URL or http://127.0.0.1:4566)
  --region R           region (default $AWS_REGION or us-east-1)
  --output F           json (default; capture: table), table or text
  --profile P          use this AWS shared-config profile's credentials
                       (without it, or AWS_ACCESS_KEY_ID / AWS_PROFILE in the
                       environment, flowctl signs with dummy credentials)

A network-firewall FILTER is one FlowFilter in the AWS CLI shorthand syntax, or JSON, or
file://PATH:
  SourceAddress={AddressDefinition=10.0.0.0/8},DestinationPort=443,Protocols=6,17
  '[{"DestinationAddress":{"AddressDefinition":"2001:db8::/32"}}]'

An ec2 FILTER is Name=NAME,Values=V1,V2 or JSON; --destination-options and
--tag-specifications take the AWS CLI shorthand or JSON too:
  --destination-options FileFormat=parquet,HiveCompatiblePartitions=true
  --tag-specifications 'ResourceType=vpc-flow-log,Tags=[{Key=team,Value=net}]'

Run 'flowctl network-firewall OPERATION -h' or 'flowctl ec2 OPERATION -h'
for an operation's flags.

Exit status: network-firewall and ec2 commands exit as the AWS CLI does (0
success, 252 bad command line or parameters, 254 the service answered with
an error, 255 anything else, such as no connection). flowctl's own commands
(capture, version, completion, man) exit as flowd does: 0 success, 1 a
failure (a capture --wait that ended FAILED, no connection...), 2 a bad
command line.
`

// Exit codes. network-firewall and ec2 commands use the AWS CLI's (252, 254,
// 255); flowctl's own commands use flowd's (1, 2).
const (
	exitOK       = 0
	exitFailed   = 1
	exitOwnUsage = 2
	exitUsage    = 252
	exitService  = 254
	exitOther    = 255
)

// defaultFirewallArn is flowd's default firewall, used when --firewall-arn
// is not given (the AWS CLI requires it; flowctl is kinder to flowd users).
const defaultFirewallArn = "arn:aws:network-firewall:us-east-1:123456789012:firewall/flowd"

const defaultEndpoint = "http://127.0.0.1:4566"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// globals are the flags every command takes.
type globals struct {
	endpoint  string
	region    string
	output    string
	profile   string
	outputSet bool // --output was given before the command
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.endpoint, "endpoint-url", g.endpoint, "endpoint `URL` (when not given: $AWS_ENDPOINT_URL, else "+defaultEndpoint+")")
	fs.StringVar(&g.region, "region", g.region, "`region` (when not given: $AWS_REGION, else us-east-1)")
	fs.StringVar(&g.output, "output", g.output, "output `format`: json, table or text")
	fs.StringVar(&g.profile, "profile", g.profile, "AWS shared-config `profile` whose credentials sign the requests")
}

func (g *globals) check() error {
	switch g.output {
	case "json", "table", "text":
	default:
		return usageError(fmt.Sprintf("argument --output: Invalid choice, valid choices are: json | table | text (got %q)", g.output))
	}
	return nil
}

// usageError is a bad command line (exit 252).
type usageError string

func (e usageError) Error() string { return string(e) }

// serviceError is an error answer of the service (exit 254).
type serviceError struct {
	op   string
	code string
	msg  string
}

func (e *serviceError) Error() string {
	return fmt.Sprintf("An error occurred (%s) when calling the %s operation: %s", e.code, e.op, e.msg)
}

// failedError is an operation that ended FAILED (exit 1).
type failedError struct{ msg string }

func (e *failedError) Error() string { return e.msg }

// apiError is what the SDK's modeled and generic errors share.
type apiError interface {
	ErrorCode() string
	ErrorMessage() string
}

// callError turns an SDK error of operation op into flowctl's.
func callError(op string, err error) error {
	var ae apiError
	if errors.As(err, &ae) {
		return &serviceError{op: op, code: ae.ErrorCode(), msg: ae.ErrorMessage()}
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return fmt.Errorf("could not connect to the endpoint URL: %v (is flowd serve running there? see --endpoint-url)", ne)
	}
	return err
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := globals{output: "json"}
	fs := flag.NewFlagSet("flowctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "flowctl: %v\nRun 'flowctl -h' for usage.\n", err)
		return exitOwnUsage
	}
	fs.Visit(func(f *flag.Flag) { g.outputSet = g.outputSet || f.Name == "output" })
	rest := fs.Args()
	switch {
	case *version:
		rest = []string{"version"}
	case *help || len(rest) > 0 && rest[0] == "help":
		if len(rest) > 1 {
			return run(ctx, append(slices.Clone(rest[1:]), "-h"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	case len(rest) == 0:
		fmt.Fprint(stderr, usage)
		return exitOwnUsage
	}
	// network-firewall and ec2 commands mirror the AWS CLI, exit codes
	// included; flowctl's own commands exit as flowd does.
	aws := rest[0] == "network-firewall" || rest[0] == "ec2"
	var err error
	switch rest[0] {
	case "network-firewall":
		if len(rest) < 2 {
			err = usageError("network-firewall: an operation is required: " + strings.Join(operationNames(), ", "))
			break
		}
		err = runNetworkFirewall(ctx, &g, rest[1], rest[2:], stdout, stderr)
	case "ec2":
		if len(rest) < 2 {
			err = usageError("ec2: an operation is required: " + strings.Join(ec2OperationNames(), ", "))
			break
		}
		err = runEC2(ctx, &g, rest[1], rest[2:], stdout)
	case "capture":
		err = runCapture(ctx, &g, rest[1:], stdout, stderr)
	case "version", "completion", "man":
		err = runOwn(rest[0], rest[1:], stdout)
	default:
		err = ownUsageError(fmt.Sprintf("unknown command %q: want network-firewall, ec2, capture, version, completion or man", rest[0]))
	}
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.Is(err, errDescribed) {
		return exitOK
	}
	cmdName := rest[0]
	switch {
	case !aws && !slices.Contains([]string{"capture", "version", "completion", "man"}, cmdName):
		cmdName = ""
	case aws && len(rest) > 1 && netfwOps[rest[1]].api == "" && ec2Ops[rest[1]].api == "":
		cmdName = rest[0]
	}
	if aws && len(rest) > 1 && cmdName != rest[0] {
		cmdName += " " + rest[1]
	}
	var ue usageError
	var oe ownUsageError
	var se *serviceError
	var fe *failedError
	switch {
	case errors.As(err, &ue) && aws:
		fmt.Fprintf(stderr, "flowctl: error: %v\nRun 'flowctl %s -h' for usage.\n", err, cmdName)
		return exitUsage
	case errors.As(err, &ue), errors.As(err, &oe):
		fmt.Fprintf(stderr, "flowctl: error: %v\nRun '%s -h' for usage.\n", err, strings.TrimSpace("flowctl "+cmdName))
		return exitOwnUsage
	case errors.As(err, &se) && aws:
		fmt.Fprintf(stderr, "\n%v\n", err)
		return exitService
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "flowctl: %v\n", err)
		return exitFailed
	case aws:
		fmt.Fprintf(stderr, "flowctl: %v\n", err)
		return exitOther
	}
	fmt.Fprintf(stderr, "flowctl: %v\n", err)
	return exitFailed
}

// ownUsageError is a bad command line of one of flowctl's own commands
// (exit 2, as flowd's).
type ownUsageError string

func (e ownUsageError) Error() string { return string(e) }

// client builds the Network Firewall client for g.
func (g *globals) client(ctx context.Context) (*nfw.Client, error) {
	cfg, endpoint, err := g.awsConfig(ctx, "AWS_ENDPOINT_URL_NETWORK_FIREWALL")
	if err != nil {
		return nil, err
	}
	return nfw.NewFromConfig(cfg, func(o *nfw.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retryer()
	}), nil
}

// retryer is the SDK's standard retries, with backoff capped at a second:
// a local flowd answers in milliseconds or not at all.
func retryer() aws.Retryer {
	return retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Second)
}

// awsConfig loads the SDK config of g and returns it with the endpoint: the
// --endpoint-url flag, else the service's own endpoint variable
// (endpointEnv), else $AWS_ENDPOINT_URL, else flowd's default.
func (g *globals) awsConfig(ctx context.Context, endpointEnv string) (aws.Config, string, error) {
	region := firstOf(g.region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
	endpoint := firstOf(g.endpoint, os.Getenv(endpointEnv), os.Getenv("AWS_ENDPOINT_URL"), defaultEndpoint)
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if g.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(g.profile))
	}
	if g.profile == "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		// flowd does not check signatures (yet); the SDK still wants to sign.
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("flowctl", "flowctl", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	return cfg, endpoint, err
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
