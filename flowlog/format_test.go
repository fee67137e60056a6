package flowlog

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// awsExamples are the example records of the AWS VPC user guide, with the
// formats they were written in.
var awsExamples = []struct {
	name   string
	format string // "" is the default format
	lines  []string
}{
	{"accepted and rejected", "", []string{
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
	}},
	{"nodata skipdata", "", []string{
		"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
		"2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
	}},
	{"icmp", "", []string{
		"2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
	}},
	{"ipv6", "", []string{
		"2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
	}},
	{"tcp flags", "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status}", []string{
		"3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK",
		"3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK",
		"3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43638 5001 52.213.180.42 10.0.0.62 6 1260 17 1566933133 1566933193 ACCEPT 3 OK",
		"3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43638 10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK",
	}},
	{"nat gateway", "${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}", []string{
		"- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5",
		"- eni-1235b8ca123456789 10.0.0.220 203.0.113.5 10.0.0.220 203.0.113.5",
		"- eni-1235b8ca123456789 203.0.113.5 10.0.0.220 203.0.113.5 10.0.0.220",
		"- eni-1235b8ca123456789 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5",
	}},
	{"version 5", "${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} ${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}", []string{
		"5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK",
		"5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK",
	}},
}

func exampleFormat(t testing.TB, s string) Format {
	t.Helper()
	if s == "" {
		return Format{}
	}
	f, err := ParseFormat(s)
	if err != nil {
		t.Fatalf("ParseFormat(%q): %v", s, err)
	}
	return f
}

// TestAWSExamples reads every AWS example line and writes it back: the text
// must come out byte for byte, with the version the format implies.
func TestAWSExamples(t *testing.T) {
	for _, ex := range awsExamples {
		t.Run(ex.name, func(t *testing.T) {
			f := exampleFormat(t, ex.format)
			for _, line := range ex.lines {
				r, ver, err := parseLine(f, line)
				if err != nil {
					t.Fatal(err)
				}
				if hasField(f, FieldVersion) && ver != f.Version() {
					t.Errorf("version %d in the example, format says %d", ver, f.Version())
				}
				if r.Protocol != 6 && hasField(f, FieldProtocol) {
					r.TCPFlags = 0
				}
				if got := string(f.AppendText(nil, &r)); got != line {
					t.Errorf("AppendText:\n got %s\nwant %s", got, line)
				}
			}
		})
	}
}

func hasField(f Format, x Field) bool {
	for _, y := range f.Fields() {
		if x == y {
			return true
		}
	}
	return false
}

func TestDefaultFormat(t *testing.T) {
	var zero Format
	parsed, err := ParseFormat(DefaultLogFormat)
	if err != nil {
		t.Fatal(err)
	}
	if zero.String() != DefaultLogFormat || parsed.String() != DefaultLogFormat {
		t.Errorf("String: %q / %q", zero.String(), parsed.String())
	}
	if zero.Version() != 2 || parsed.Version() != 2 {
		t.Errorf("Version: %d / %d, want 2", zero.Version(), parsed.Version())
	}
	if !zero.IsDefault() || parsed.IsDefault() {
		t.Errorf("IsDefault: %v / %v", zero.IsDefault(), parsed.IsDefault())
	}
	want := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
	if zero.Header() != want {
		t.Errorf("Header: %q", zero.Header())
	}
}

func TestFormatVersion(t *testing.T) {
	for _, c := range []struct {
		format string
		want   int
	}{
		{"${srcaddr}", 2},
		{"${version} ${srcaddr}", 2},
		{"${version} ${vpc-id}", 3},
		{"${tcp-flags} ${version}", 3},
		{"${version} ${az-id}", 4},
		{"${version} ${flow-direction} ${vpc-id}", 5},
		{"${version} ${ecs-task-id}", 7},
		{"${version} ${reject-reason} ${srcaddr}", 8},
		{"${version} ${resource-id}", 9},
		{"${version} ${encryption-status}", 10},
		{"${version} ${next-hop-vpc-id}", 11},
	} {
		f, err := ParseFormat(c.format)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		if f.Version() != c.want {
			t.Errorf("%q: version %d, want %d", c.format, f.Version(), c.want)
		}
	}
}

func TestParseFormatOrderAndSpacing(t *testing.T) {
	f, err := ParseFormat("  ${dstport}   ${srcaddr}\t${version} ")
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{FieldDstPort, FieldSrcAddr, FieldVersion}
	got := f.Fields()
	if len(got) != len(want) {
		t.Fatalf("fields %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: %v, want %v", i, got[i], want[i])
		}
	}
	if f.String() != "${dstport} ${srcaddr} ${version}" || f.Header() != "dstport srcaddr version" {
		t.Errorf("String %q Header %q", f.String(), f.Header())
	}
}

func TestParseFormatErrors(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"", "at least one field"},
		{"   ", "at least one field"},
		{"${srcaddr} ${foo}", `field 2 "${foo}": unknown field; valid fields: version, account-id`},
		{"${srcaddr} ${SRCADDR}", "unknown field"},
		{"srcaddr", "is not a field reference"},
		{"${srcaddr}${dstaddr}", "separate fields with spaces"},
		{"${srcaddr", "is not a field reference"},
		{"${}", "is not a field reference"},
		{"$srcaddr", "is not a field reference"},
		{"${srcaddr},${dstaddr}", "separate fields with spaces"},
		{"${srcaddr} ${srcaddr}", "more than once"},
		{"${tgw-id}", "unknown field"},
		{strings.Repeat("${srcaddr} ", 500), "longer than any valid format"},
	} {
		_, err := ParseFormat(c.in)
		if err == nil {
			t.Errorf("%.40q: no error", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: error %q does not say %q", c.in, err, c.want)
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%.40q: errors.Is(err, ErrFormat) is false", c.in)
		}
	}
	// The list of valid fields names every field.
	_, err := ParseFormat("${nope}")
	for _, f := range AllFields() {
		if !strings.Contains(err.Error(), f.String()) {
			t.Errorf("error does not list %s", f)
		}
	}
}

func TestFieldTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range AllFields() {
		if f.String() == "" || seen[f.String()] {
			t.Errorf("field %d name %q", f, f.String())
		}
		seen[f.String()] = true
		if g, ok := FieldByName(f.String()); !ok || g != f {
			t.Errorf("FieldByName(%q) = %v", f, g)
		}
		if f.Column() != strings.ReplaceAll(f.String(), "-", "_") {
			t.Errorf("column %q", f.Column())
		}
	}
	ints32 := "version srcport dstport protocol tcp-flags traffic-path encryption-status"
	ints64 := "packets bytes start end"
	for _, f := range AllFields() {
		want := KindString
		if strings.Contains(" "+ints32+" ", " "+f.String()+" ") {
			want = KindInt32
		}
		if strings.Contains(" "+ints64+" ", " "+f.String()+" ") {
			want = KindInt64
		}
		if f.Kind() != want {
			t.Errorf("%s: kind %d, want %d", f, f.Kind(), want)
		}
	}
	if Field(0).String() != "" || Field(200).Version() != 0 {
		t.Error("invalid fields must have no name and version 0")
	}
}

// fullFormat uses every field.
func fullFormat() Format {
	var b strings.Builder
	for i, f := range AllFields() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("${" + f.String() + "}")
	}
	return MustParseFormat(b.String())
}

func sampleRecord() Record {
	return Record{
		AccountID: "123456789012", InterfaceID: "eni-0123456789abcdef0", VPCID: "vpc-01", SubnetID: "subnet-01",
		InstanceID: "i-01", Region: "us-east-1", AZID: "use1-az1",
		Start: 1700000000, End: 1700000042,
		SrcAddr: netip.MustParseAddr("10.0.0.5"), DstAddr: netip.MustParseAddr("93.184.216.34"),
		PktSrcAddr: netip.MustParseAddr("10.0.0.5"), PktDstAddr: netip.MustParseAddr("93.184.216.34"),
		SrcPort: 43210, DstPort: 443, Protocol: 6, TCPFlags: 19, Packets: 12, Bytes: 4321,
		Action: ActionAccept, FlowDirection: DirectionEgress, TrafficPath: 2,
		PktDstAWSService: "AMAZON", ECSClusterName: "prod", ECSTaskID: "abc",
	}
}

func TestAppendTextRules(t *testing.T) {
	f := fullFormat()
	r := sampleRecord()
	line := string(f.AppendText(nil, &r))
	want := "11 123456789012 eni-0123456789abcdef0 10.0.0.5 93.184.216.34 43210 443 6 12 4321 1700000000 1700000042 ACCEPT OK " +
		"vpc-01 subnet-01 i-01 19 IPv4 10.0.0.5 93.184.216.34 us-east-1 use1-az1 - - - AMAZON egress 2 " +
		"- prod - - - - - - - abc - " + strings.TrimSpace(strings.Repeat("- ", 14))
	if line != want {
		t.Errorf("\n got %s\nwant %s", line, want)
	}

	one := func(field string, r Record) string {
		return string(MustParseFormat("${"+field+"}").AppendText(nil, &r))
	}
	udp := r
	udp.Protocol = 17
	if got := one("tcp-flags", udp); got != "-" {
		t.Errorf("tcp-flags for UDP: %q, want -", got)
	}
	bad := r
	bad.TCPFlags = TCPFlagsInvalid
	if got := one("tcp-flags", bad); got != "-" {
		t.Errorf("invalid tcp-flags: %q, want -", got)
	}
	in := r
	in.FlowDirection = DirectionIngress
	if got := one("traffic-path", in); got != "-" {
		t.Errorf("traffic-path for ingress: %q, want -", got)
	}
	v6 := r
	v6.SrcAddr = netip.MustParseAddr("2001:db8::1")
	if got := one("type", v6); got != "IPv6" {
		t.Errorf("type: %q", got)
	}
	mapped := r
	mapped.SrcAddr = netip.MustParseAddr("::ffff:10.1.2.3")
	if got := one("srcaddr", mapped) + " " + one("type", mapped); got != "10.1.2.3 IPv4" {
		t.Errorf("mapped address: %q", got)
	}
	var zero Record
	if got := one("action", zero) + one("srcaddr", zero) + one("flow-direction", zero) + one("account-id", zero); got != "----" {
		t.Errorf("zero record: %q", got)
	}
	nd := r
	nd.LogStatus = LogNoData
	got := string(Format{}.AppendText(nil, &nd))
	if want := "2 123456789012 eni-0123456789abcdef0 - - - - - - - 1700000000 1700000042 - NODATA"; got != want {
		t.Errorf("NODATA: %q, want %q", got, want)
	}
	// Interface metadata stays in a NODATA record; flow fields do not.
	if got := string(MustParseFormat("${vpc-id} ${tcp-flags} ${type} ${ecs-task-id}").AppendText(nil, &nd)); got != "vpc-01 - - -" {
		t.Errorf("NODATA v3 fields: %q", got)
	}
}

func TestAppendTextAllocs(t *testing.T) {
	f := fullFormat()
	r := sampleRecord()
	r.SrcAddr = netip.MustParseAddr("2001:db8:1234:a100:8d6e:3477:df66:f105")
	buf := make([]byte, 0, 4096)
	for _, ff := range []Format{{}, f} {
		if n := testing.AllocsPerRun(200, func() { buf = ff.AppendText(buf[:0], &r) }); n != 0 {
			t.Errorf("AppendText allocates %v times per record", n)
		}
	}
}

func FuzzParseFormat(f *testing.F) {
	f.Add(DefaultLogFormat)
	for _, ex := range awsExamples {
		f.Add(ex.format)
	}
	f.Add("${srcaddr} ${srcaddr}")
	f.Add("${")
	f.Add("${version}${version}")
	r := sampleRecord()
	f.Fuzz(func(t *testing.T, s string) {
		ft, err := ParseFormat(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) || err.Error() == "" {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		again, err := ParseFormat(ft.String())
		if err != nil || again.String() != ft.String() || again.Version() != ft.Version() {
			t.Fatalf("canonical form %q does not round-trip: %v", ft.String(), err)
		}
		line := ft.AppendText(nil, &r)
		if got := strings.Count(string(line), " ") + 1; got != len(ft.Fields()) {
			t.Fatalf("%d tokens for %d fields", got, len(ft.Fields()))
		}
		if _, _, err := parseLine(ft, string(line)); err != nil {
			t.Fatal(err)
		}
	})
}
