package flowlog

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parseLine is the tests' reader of a text record: the inverse of
// AppendText, written separately and plainly so each checks the other. It
// returns the record and the version field's value (0 when absent).
func parseLine(f Format, line string) (Record, int, error) {
	var r Record
	toks := strings.Split(line, " ")
	if len(toks) != len(f.Fields()) {
		return r, 0, fmt.Errorf("%d tokens for %d fields in %q", len(toks), len(f.Fields()), line)
	}
	ver := 0
	// log-status decides how "-" reads, so find it first.
	for i, fl := range f.Fields() {
		if fl == FieldLogStatus {
			switch toks[i] {
			case "OK":
			case "NODATA":
				r.LogStatus = LogNoData
			case "SKIPDATA":
				r.LogStatus = LogSkipData
			default:
				return r, 0, fmt.Errorf("log-status %q", toks[i])
			}
		}
	}
	for i, fl := range f.Fields() {
		t := toks[i]
		dash := t == "-"
		num := func(bits int) (uint64, error) {
			if dash {
				return 0, nil
			}
			return strconv.ParseUint(t, 10, bits)
		}
		addr := func() (netip.Addr, error) {
			if dash {
				return netip.Addr{}, nil
			}
			return netip.ParseAddr(t)
		}
		str := func() string {
			if dash {
				return ""
			}
			return t
		}
		var err error
		var n uint64
		switch fl {
		case FieldVersion:
			n, err = num(8)
			ver = int(n)
		case FieldAccountID:
			r.AccountID = str()
		case FieldInterfaceID:
			r.InterfaceID = str()
		case FieldSrcAddr:
			r.SrcAddr, err = addr()
		case FieldDstAddr:
			r.DstAddr, err = addr()
		case FieldPktSrcAddr:
			r.PktSrcAddr, err = addr()
		case FieldPktDstAddr:
			r.PktDstAddr, err = addr()
		case FieldSrcPort:
			n, err = num(16)
			r.SrcPort = uint16(n)
		case FieldDstPort:
			n, err = num(16)
			r.DstPort = uint16(n)
		case FieldProtocol:
			n, err = num(8)
			r.Protocol = uint8(n)
		case FieldPackets:
			r.Packets, err = num(64)
		case FieldBytes:
			r.Bytes, err = num(64)
		case FieldStart:
			r.Start, err = strconv.ParseInt(t, 10, 64)
		case FieldEnd:
			r.End, err = strconv.ParseInt(t, 10, 64)
		case FieldAction:
			switch t {
			case "ACCEPT":
				r.Action = ActionAccept
			case "REJECT":
				r.Action = ActionReject
			case "-":
			default:
				err = fmt.Errorf("action %q", t)
			}
		case FieldLogStatus:
		case FieldVPCID:
			r.VPCID = str()
		case FieldSubnetID:
			r.SubnetID = str()
		case FieldInstanceID:
			r.InstanceID = str()
		case FieldTCPFlags:
			if dash {
				r.TCPFlags = TCPFlagsInvalid
			} else {
				n, err = num(8)
				r.TCPFlags = TCPFlags(n)
			}
		case FieldType:
			if t != "IPv4" && t != "IPv6" && !dash {
				err = fmt.Errorf("type %q", t)
			}
		case FieldRegion:
			r.Region = str()
		case FieldAZID:
			r.AZID = str()
		case FieldSublocationType:
			r.SublocationType = str()
		case FieldSublocationID:
			r.SublocationID = str()
		case FieldPktSrcAWSService:
			r.PktSrcAWSService = str()
		case FieldPktDstAWSService:
			r.PktDstAWSService = str()
		case FieldFlowDirection:
			switch t {
			case "ingress":
				r.FlowDirection = DirectionIngress
			case "egress":
				r.FlowDirection = DirectionEgress
			case "-":
			default:
				err = fmt.Errorf("flow-direction %q", t)
			}
		case FieldTrafficPath:
			n, err = num(8)
			r.TrafficPath = uint8(n)
		case FieldECSClusterARN:
			r.ECSClusterARN = str()
		case FieldECSClusterName:
			r.ECSClusterName = str()
		case FieldECSContainerInstanceARN:
			r.ECSContainerInstanceARN = str()
		case FieldECSContainerInstanceID:
			r.ECSContainerInstanceID = str()
		case FieldECSContainerID:
			r.ECSContainerID = str()
		case FieldECSSecondContainerID:
			r.ECSSecondContainerID = str()
		case FieldECSServiceName:
			r.ECSServiceName = str()
		case FieldECSTaskDefinitionARN:
			r.ECSTaskDefinitionARN = str()
		case FieldECSTaskARN:
			r.ECSTaskARN = str()
		case FieldECSTaskID:
			r.ECSTaskID = str()
		case FieldRejectReason:
			r.RejectReason = str()
		default:
			if !dash {
				err = fmt.Errorf("field %s is never computed but reads %q", fl, t)
			}
		}
		if err != nil {
			return r, 0, fmt.Errorf("field %d %s: %w", i+1, fl, err)
		}
	}
	// Without a protocol field, a numeric tcp-flags can only come from TCP.
	if !hasField(f, FieldProtocol) && r.TCPFlags != TCPFlagsInvalid {
		r.Protocol = 6
	}
	return r, ver, nil
}

// MustParseFormat parses a format written in a test.
func MustParseFormat(s string) Format {
	f, err := ParseFormat(s)
	if err != nil {
		panic(err)
	}
	return f
}
