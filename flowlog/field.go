package flowlog

import "strings"

// Field names one column of a flow log record, such as srcaddr or tcp-flags.
// The zero Field is not a field.
type Field uint8

// The fields, in the order AWS documents them. Fields of versions 9 to 11 are
// accepted in a LogFormat (so formats copied from AWS work) but flowd cannot
// compute them: they always print "-".
const (
	FieldVersion Field = iota + 1
	FieldAccountID
	FieldInterfaceID
	FieldSrcAddr
	FieldDstAddr
	FieldSrcPort
	FieldDstPort
	FieldProtocol
	FieldPackets
	FieldBytes
	FieldStart
	FieldEnd
	FieldAction
	FieldLogStatus
	FieldVPCID
	FieldSubnetID
	FieldInstanceID
	FieldTCPFlags
	FieldType
	FieldPktSrcAddr
	FieldPktDstAddr
	FieldRegion
	FieldAZID
	FieldSublocationType
	FieldSublocationID
	FieldPktSrcAWSService
	FieldPktDstAWSService
	FieldFlowDirection
	FieldTrafficPath
	FieldECSClusterARN
	FieldECSClusterName
	FieldECSContainerInstanceARN
	FieldECSContainerInstanceID
	FieldECSContainerID
	FieldECSSecondContainerID
	FieldECSServiceName
	FieldECSTaskDefinitionARN
	FieldECSTaskARN
	FieldECSTaskID
	FieldRejectReason
	FieldResourceID
	FieldEncryptionStatus
	FieldInstanceTag
	FieldInstanceTag2
	FieldInterfaceTag
	FieldInterfaceTag2
	FieldASGTag
	FieldASGTag2
	FieldInterfaceType
	FieldNextHopInterfaceID
	FieldNextHopSubnetID
	FieldNextHopAZID
	FieldNextHopVPCID
	FieldNextHopInterfaceType

	numFields = iota + 1
)

// Kind is how a field is stored in a Parquet object.
type Kind uint8

// Parquet physical types used by flow logs.
const (
	KindString Kind = iota // BYTE_ARRAY annotated as UTF-8 string
	KindInt32              // INT32
	KindInt64              // INT64
)

type fieldInfo struct {
	name    string
	column  string // Parquet column name: the name with '_' for '-'
	version uint8
	kind    Kind
}

var fields = [numFields]fieldInfo{
	FieldVersion:                 {name: "version", version: 2, kind: KindInt32},
	FieldAccountID:               {name: "account-id", version: 2},
	FieldInterfaceID:             {name: "interface-id", version: 2},
	FieldSrcAddr:                 {name: "srcaddr", version: 2},
	FieldDstAddr:                 {name: "dstaddr", version: 2},
	FieldSrcPort:                 {name: "srcport", version: 2, kind: KindInt32},
	FieldDstPort:                 {name: "dstport", version: 2, kind: KindInt32},
	FieldProtocol:                {name: "protocol", version: 2, kind: KindInt32},
	FieldPackets:                 {name: "packets", version: 2, kind: KindInt64},
	FieldBytes:                   {name: "bytes", version: 2, kind: KindInt64},
	FieldStart:                   {name: "start", version: 2, kind: KindInt64},
	FieldEnd:                     {name: "end", version: 2, kind: KindInt64},
	FieldAction:                  {name: "action", version: 2},
	FieldLogStatus:               {name: "log-status", version: 2},
	FieldVPCID:                   {name: "vpc-id", version: 3},
	FieldSubnetID:                {name: "subnet-id", version: 3},
	FieldInstanceID:              {name: "instance-id", version: 3},
	FieldTCPFlags:                {name: "tcp-flags", version: 3, kind: KindInt32},
	FieldType:                    {name: "type", version: 3},
	FieldPktSrcAddr:              {name: "pkt-srcaddr", version: 3},
	FieldPktDstAddr:              {name: "pkt-dstaddr", version: 3},
	FieldRegion:                  {name: "region", version: 4},
	FieldAZID:                    {name: "az-id", version: 4},
	FieldSublocationType:         {name: "sublocation-type", version: 4},
	FieldSublocationID:           {name: "sublocation-id", version: 4},
	FieldPktSrcAWSService:        {name: "pkt-src-aws-service", version: 5},
	FieldPktDstAWSService:        {name: "pkt-dst-aws-service", version: 5},
	FieldFlowDirection:           {name: "flow-direction", version: 5},
	FieldTrafficPath:             {name: "traffic-path", version: 5, kind: KindInt32},
	FieldECSClusterARN:           {name: "ecs-cluster-arn", version: 7},
	FieldECSClusterName:          {name: "ecs-cluster-name", version: 7},
	FieldECSContainerInstanceARN: {name: "ecs-container-instance-arn", version: 7},
	FieldECSContainerInstanceID:  {name: "ecs-container-instance-id", version: 7},
	FieldECSContainerID:          {name: "ecs-container-id", version: 7},
	FieldECSSecondContainerID:    {name: "ecs-second-container-id", version: 7},
	FieldECSServiceName:          {name: "ecs-service-name", version: 7},
	FieldECSTaskDefinitionARN:    {name: "ecs-task-definition-arn", version: 7},
	FieldECSTaskARN:              {name: "ecs-task-arn", version: 7},
	FieldECSTaskID:               {name: "ecs-task-id", version: 7},
	FieldRejectReason:            {name: "reject-reason", version: 8},
	FieldResourceID:              {name: "resource-id", version: 9},
	// The type of encryption-status in Parquet is not documented; it holds a
	// small integer code, so INT32 like the other codes.
	FieldEncryptionStatus:     {name: "encryption-status", version: 10, kind: KindInt32},
	FieldInstanceTag:          {name: "instance-tag", version: 11},
	FieldInstanceTag2:         {name: "instance-tag-2", version: 11},
	FieldInterfaceTag:         {name: "interface-tag", version: 11},
	FieldInterfaceTag2:        {name: "interface-tag-2", version: 11},
	FieldASGTag:               {name: "asg-tag", version: 11},
	FieldASGTag2:              {name: "asg-tag-2", version: 11},
	FieldInterfaceType:        {name: "interface-type", version: 11},
	FieldNextHopInterfaceID:   {name: "next-hop-interface-id", version: 11},
	FieldNextHopSubnetID:      {name: "next-hop-subnet-id", version: 11},
	FieldNextHopAZID:          {name: "next-hop-az-id", version: 11},
	FieldNextHopVPCID:         {name: "next-hop-vpc-id", version: 11},
	FieldNextHopInterfaceType: {name: "next-hop-interface-type", version: 11},
}

var fieldByName = func() map[string]Field {
	m := make(map[string]Field, numFields)
	for f := Field(1); f < numFields; f++ {
		fields[f].column = strings.ReplaceAll(fields[f].name, "-", "_")
		m[fields[f].name] = f
	}
	return m
}()

// AllFields returns every field flowd accepts, in AWS's documented order.
func AllFields() []Field {
	out := make([]Field, 0, numFields-1)
	for f := Field(1); f < numFields; f++ {
		out = append(out, f)
	}
	return out
}

// FieldByName returns the field with the given name ("srcaddr", not
// "${srcaddr}").
func FieldByName(name string) (Field, bool) {
	f, ok := fieldByName[name]
	return f, ok
}

func (f Field) valid() bool { return f > 0 && f < numFields }

// String returns the field's name as written in a LogFormat and in the
// header line of a text object, or "" for an invalid field.
func (f Field) String() string {
	if !f.valid() {
		return ""
	}
	return fields[f].name
}

// Column returns the field's Parquet column name (account_id for account-id).
func (f Field) Column() string {
	if !f.valid() {
		return ""
	}
	return fields[f].column
}

// Version returns the flow log version that introduced the field.
func (f Field) Version() int {
	if !f.valid() {
		return 0
	}
	return int(fields[f].version)
}

// Kind returns the Parquet type of the field.
func (f Field) Kind() Kind {
	if !f.valid() {
		return KindString
	}
	return fields[f].kind
}

// Computed reports whether flowd can fill the field. Fields of versions 9 and
// later are accepted in formats but always print "-".
func (f Field) Computed() bool { return f.valid() && fields[f].version <= 8 }

// validFieldList is the list quoted in errors about unknown fields.
var validFieldList = func() string {
	var b strings.Builder
	for f := Field(1); f < numFields; f++ {
		if f > 1 {
			b.WriteString(", ")
		}
		b.WriteString(fields[f].name)
	}
	return b.String()
}()
