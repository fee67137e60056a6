package flowlog

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// The resources of the default network, used when the config names none:
// one account, one VPC and one subnet that hold every interface. The ids
// have the AWS shapes (a prefix and 17 hex digits) so that clients which
// check them accept them.
const (
	DefaultAccountID = "123456789012"
	DefaultRegion    = "us-east-1"
	DefaultAZID      = "use1-az1"
	DefaultVPCID     = "vpc-0f10d0000000000a1"
	DefaultSubnetID  = "subnet-0f10d0000000000b1"
)

// DefaultInterface returns the interface of a capture source named name
// when the config says nothing else about it: in the default account,
// region, AZ, VPC and subnet, with no instance and no local addresses, and
// an interface id "eni-" + 17 hex digits derived from the name (xxhash64),
// so that the same source keeps the same id across restarts and flow logs
// persisted against it still resolve.
func DefaultInterface(name string) Interface {
	return Interface{
		Name:        name,
		AccountID:   DefaultAccountID,
		InterfaceID: fmt.Sprintf("eni-%017x", xxhash.Sum64String(name)),
		VPCID:       DefaultVPCID,
		SubnetID:    DefaultSubnetID,
		Region:      DefaultRegion,
		AZID:        DefaultAZID,
	}
}
