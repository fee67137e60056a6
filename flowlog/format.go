package flowlog

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultLogFormat is the format of a flow log created without LogFormat, as
// DescribeFlowLogs reports it.
const DefaultLogFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

var defaultFields = []Field{
	FieldVersion, FieldAccountID, FieldInterfaceID, FieldSrcAddr, FieldDstAddr,
	FieldSrcPort, FieldDstPort, FieldProtocol, FieldPackets, FieldBytes,
	FieldStart, FieldEnd, FieldAction, FieldLogStatus,
}

// Format is a parsed LogFormat: the fields of a record in output order. The
// zero Format is the default format. A Format is immutable and safe for
// concurrent use.
type Format struct {
	fields  []Field
	version int
	custom  bool
}

// ErrFormat is matched by every error ParseFormat returns.
var ErrFormat = errors.New("invalid LogFormat")

// FormatError describes what is wrong with a LogFormat string.
type FormatError struct {
	Format string // the whole LogFormat as given
	Token  string // the offending token; empty when the format has no field
	Index  int    // 1-based position of the token among the format's tokens
	Reason string
}

func (e *FormatError) Error() string {
	if e.Token == "" {
		return "LogFormat: " + e.Reason
	}
	return fmt.Sprintf("LogFormat: field %d %q: %s", e.Index, e.Token, e.Reason)
}

// Is makes errors.Is(err, ErrFormat) hold.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// maxFormatLen bounds the input the parser looks at; the longest valid format
// (every field once) is under 1 KiB.
const maxFormatLen = 4096

// ParseFormat parses a LogFormat: field references "${name}" separated by
// spaces, at least one, each at most once. The version field, if present,
// prints the highest version among the chosen fields, which is the AWS rule.
func ParseFormat(s string) (Format, error) {
	if len(s) > maxFormatLen {
		return Format{}, &FormatError{Format: s[:64] + "...", Reason: fmt.Sprintf("%d bytes is longer than any valid format (%d bytes at most)", len(s), maxFormatLen)}
	}
	var (
		out  []Field
		seen [numFields]bool
		ver  = 2
	)
	for i, tok := range strings.Fields(s) {
		if !strings.HasPrefix(tok, "${") || !strings.HasSuffix(tok, "}") || len(tok) < 4 {
			return Format{}, &FormatError{Format: s, Token: tok, Index: i + 1,
				Reason: "is not a field reference; write each field as ${field-name}, separated by spaces"}
		}
		name := tok[2 : len(tok)-1]
		if strings.ContainsAny(name, "${}") {
			return Format{}, &FormatError{Format: s, Token: tok, Index: i + 1,
				Reason: "is not one field reference; separate fields with spaces, as in ${srcaddr} ${dstaddr}"}
		}
		f, ok := fieldByName[name]
		if !ok {
			return Format{}, &FormatError{Format: s, Token: tok, Index: i + 1,
				Reason: "unknown field; valid fields: " + validFieldList}
		}
		if seen[f] {
			return Format{}, &FormatError{Format: s, Token: tok, Index: i + 1,
				Reason: "field appears more than once; each field may be used once"}
		}
		seen[f] = true
		out = append(out, f)
		ver = max(ver, f.Version())
	}
	if len(out) == 0 {
		return Format{}, &FormatError{Format: s, Reason: "must include at least one field, such as ${srcaddr}"}
	}
	return Format{fields: out, version: ver, custom: true}, nil
}

// Fields returns the fields in output order. The caller must not modify the
// slice.
func (f Format) Fields() []Field {
	if f.fields == nil {
		return defaultFields
	}
	return f.fields
}

// Version returns the value of the version field: 2 for the default format,
// else the highest version among the chosen fields.
func (f Format) Version() int {
	if f.fields == nil {
		return 2
	}
	return f.version
}

// IsDefault reports whether f is the default format (the zero Format).
func (f Format) IsDefault() bool { return !f.custom }

// String returns the format as a LogFormat string, in canonical spacing.
func (f Format) String() string {
	if f.fields == nil {
		return DefaultLogFormat
	}
	var b strings.Builder
	for i, fl := range f.fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("${")
		b.WriteString(fl.String())
		b.WriteByte('}')
	}
	return b.String()
}

// Header returns the header line of a text object: the field names separated
// by spaces, without a newline.
func (f Format) Header() string {
	return string(f.AppendHeader(nil))
}

// AppendHeader appends the header line (without a newline) to dst.
func (f Format) AppendHeader(dst []byte) []byte {
	for i, fl := range f.Fields() {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, fl.String()...)
	}
	return dst
}

// AppendText appends the record line for r, without a newline, to dst and
// returns the extended buffer. It does not allocate when dst has room.
func (f Format) AppendText(dst []byte, r *Record) []byte {
	ver := f.Version()
	for i, fl := range f.Fields() {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = appendField(dst, r, fl, ver)
	}
	return dst
}

// intField returns the value of an integer field, or ok false where the text
// form is "-".
func intField(r *Record, f Field, version int) (v int64, ok bool) {
	flow := r.LogStatus == LogOK
	switch f {
	case FieldVersion:
		return int64(version), true
	case FieldStart:
		return r.Start, true
	case FieldEnd:
		return r.End, true
	}
	if !flow {
		return 0, false
	}
	switch f {
	case FieldSrcPort:
		return int64(r.SrcPort), true
	case FieldDstPort:
		return int64(r.DstPort), true
	case FieldProtocol:
		return int64(r.Protocol), true
	case FieldPackets:
		return int64(r.Packets), true
	case FieldBytes:
		return int64(r.Bytes), true
	case FieldTCPFlags:
		if r.Protocol != 6 || !r.TCPFlags.Valid() {
			return 0, false
		}
		return int64(r.TCPFlags), true
	case FieldTrafficPath:
		// AWS reports the path for egress traffic only.
		if r.TrafficPath == 0 || r.FlowDirection == DirectionIngress {
			return 0, false
		}
		return int64(r.TrafficPath), true
	}
	return 0, false
}

// strField returns the value of a string field that needs no formatting, or
// "" where the text form is "-". Addresses are handled by addrField.
func strField(r *Record, f Field) string {
	switch f {
	case FieldAccountID:
		return r.AccountID
	case FieldInterfaceID:
		return r.InterfaceID
	case FieldVPCID:
		return r.VPCID
	case FieldSubnetID:
		return r.SubnetID
	case FieldInstanceID:
		return r.InstanceID
	case FieldRegion:
		return r.Region
	case FieldAZID:
		return r.AZID
	case FieldSublocationType:
		return r.SublocationType
	case FieldSublocationID:
		return r.SublocationID
	case FieldLogStatus:
		return r.LogStatus.String()
	}
	if r.LogStatus != LogOK {
		return ""
	}
	switch f {
	case FieldAction:
		if r.Action == ActionNone {
			return ""
		}
		return r.Action.String()
	case FieldType:
		if t := r.AddrType(); t != "-" {
			return t
		}
	case FieldFlowDirection:
		if r.FlowDirection != DirectionUnknown {
			return r.FlowDirection.String()
		}
	case FieldPktSrcAWSService:
		return r.PktSrcAWSService
	case FieldPktDstAWSService:
		return r.PktDstAWSService
	case FieldRejectReason:
		return r.RejectReason
	case FieldECSClusterARN:
		return r.ECSClusterARN
	case FieldECSClusterName:
		return r.ECSClusterName
	case FieldECSContainerInstanceARN:
		return r.ECSContainerInstanceARN
	case FieldECSContainerInstanceID:
		return r.ECSContainerInstanceID
	case FieldECSContainerID:
		return r.ECSContainerID
	case FieldECSSecondContainerID:
		return r.ECSSecondContainerID
	case FieldECSServiceName:
		return r.ECSServiceName
	case FieldECSTaskDefinitionARN:
		return r.ECSTaskDefinitionARN
	case FieldECSTaskARN:
		return r.ECSTaskARN
	case FieldECSTaskID:
		return r.ECSTaskID
	}
	return ""
}

// addrField returns the address behind an address field, invalid where the
// text form is "-".
func addrField(r *Record, f Field) (netip.Addr, bool) {
	if r.LogStatus != LogOK {
		return netip.Addr{}, false
	}
	var a netip.Addr
	switch f {
	case FieldSrcAddr:
		a = r.SrcAddr
	case FieldDstAddr:
		a = r.DstAddr
	case FieldPktSrcAddr:
		a = r.PktSrcAddr
	case FieldPktDstAddr:
		a = r.PktDstAddr
	default:
		return netip.Addr{}, false
	}
	// IPv4-mapped IPv6 addresses are IPv4 traffic; print them as such.
	return a.Unmap(), a.IsValid()
}

func isAddrField(f Field) bool {
	return f == FieldSrcAddr || f == FieldDstAddr || f == FieldPktSrcAddr || f == FieldPktDstAddr
}

// appendField appends the text form of one field.
func appendField(dst []byte, r *Record, f Field, version int) []byte {
	switch {
	case f.Kind() != KindString:
		if v, ok := intField(r, f, version); ok {
			return strconv.AppendInt(dst, v, 10)
		}
	case isAddrField(f):
		if a, ok := addrField(r, f); ok {
			return a.AppendTo(dst)
		}
	default:
		if s := strField(r, f); s != "" {
			return append(dst, s...)
		}
	}
	return append(dst, '-')
}
