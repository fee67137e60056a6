package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The scope of a flow operation: a firewall has endpoints (an Availability
// Zone and a VPC endpoint, perhaps of a VPC endpoint association), every
// source belongs to one, and an operation's Scope picks some of them.

// ScopeError says which scope member names nothing of this firewall.
// Member is the AWS member name; Error() is "Member: message".
type ScopeError struct {
	Member string
	Msg    string
}

func (e *ScopeError) Error() string { return e.Member + ": " + e.Msg }

// Is makes errors.Is(err, ErrScope) true.
func (e *ScopeError) Is(target error) bool { return target == ErrScope }

// Endpoint is one firewall endpoint: the sources whose SourceInfo carries
// its Availability Zone and VPC endpoint id belong to it.
type Endpoint struct {
	AvailabilityZone string
	VpcEndpointID    string
	// AssociationArn is the VPC endpoint association the endpoint belongs
	// to; empty for the firewall's own (primary) endpoints.
	AssociationArn string
}

// Scope narrows an operation to some endpoints: every member given must
// match (AvailabilityZone: all endpoints in that zone, primary and
// associated; VpcEndpointID: that endpoint; VpcEndpointAssociationArn: the
// endpoints of that association). The zero Scope is every endpoint.
type Scope struct {
	AvailabilityZone          string
	VpcEndpointID             string
	VpcEndpointAssociationArn string
}

// IsZero reports whether s narrows nothing.
func (s Scope) IsZero() bool { return s == Scope{} }

// resolve returns the endpoints in scope s, ascending; a member that names
// nothing of this firewall is a *ScopeError.
func (fw *firewall) resolve(s Scope) ([]int, error) {
	var eps []int
	for i := range fw.endpoints {
		eps = append(eps, i)
	}
	var given []string // the members narrowed by so far, for messages
	narrow := func(member, value string, field func(*Endpoint) string, what string) error {
		var known []string
		kept := eps[:0:0]
		found := false
		for i := range fw.endpoints {
			v := field(&fw.endpoints[i])
			if v != "" && !slices.Contains(known, v) {
				known = append(known, v)
			}
			if v == value {
				found = true
			}
		}
		if !found {
			msg := strconv.Quote(value) + " is not " + what + " of this firewall"
			if len(known) > 0 {
				msg += " (it has " + joinQuoted(known) + ")"
			}
			return &ScopeError{Member: member, Msg: msg}
		}
		for _, i := range eps {
			if field(&fw.endpoints[i]) == value {
				kept = append(kept, i)
			}
		}
		if len(kept) == 0 {
			return &ScopeError{Member: member, Msg: strconv.Quote(value) + " is not in " + strings.Join(given, " and ")}
		}
		eps = kept
		given = append(given, member+" "+strconv.Quote(value))
		return nil
	}
	if s.AvailabilityZone != "" {
		if err := narrow("AvailabilityZone", s.AvailabilityZone, func(e *Endpoint) string { return e.AvailabilityZone }, "an Availability Zone"); err != nil {
			return nil, err
		}
	}
	if s.VpcEndpointID != "" {
		if err := narrow("VpcEndpointId", s.VpcEndpointID, func(e *Endpoint) string { return e.VpcEndpointID }, "a VPC endpoint"); err != nil {
			return nil, err
		}
	}
	if s.VpcEndpointAssociationArn != "" {
		if err := narrow("VpcEndpointAssociationArn", s.VpcEndpointAssociationArn, func(e *Endpoint) string { return e.AssociationArn }, "a VPC endpoint association"); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func joinQuoted(vs []string) string {
	const most = 8
	var b []byte
	for i, v := range vs {
		if i == most {
			b = fmt.Appendf(b, ", and %d more", len(vs)-most)
			break
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, v)
	}
	return string(b)
}

// zones returns the Availability Zones of endpoints eps.
func (fw *firewall) zones(eps []int) []string {
	var azs []string
	for _, i := range eps {
		if az := fw.endpoints[i].AvailabilityZone; !slices.Contains(azs, az) {
			azs = append(azs, az)
		}
	}
	return azs
}

// sourcesIn returns, per source id, whether the source is in scope; nil
// means every source (an unscoped operation).
func (fw *firewall) sourcesIn(s Scope, eps []int) []bool {
	if s.IsZero() {
		return nil
	}
	in := make([]bool, len(fw.srcEP))
	for i, ep := range fw.srcEP {
		in[i] = slices.Contains(eps, ep)
	}
	return in
}

func overlap(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// firewall is the endpoints of one firewall and the endpoint of each source.
type firewall struct {
	endpoints []Endpoint
	srcEP     []int // srcEP[i] is the endpoint of source i
}

// newFirewall makes the firewall's endpoints: those given, and every
// distinct (AvailabilityZone, VpcEndpointID) of the sources, with the
// source's AssociationArn when it has one.
func newFirewall(given []Endpoint, sources []SourceInfo) *firewall {
	same := func(ep *Endpoint, in *SourceInfo) bool {
		return ep.AvailabilityZone == in.AvailabilityZone && ep.VpcEndpointID == in.VpcEndpointID
	}
	fw := &firewall{endpoints: slices.Clone(given)}
	for _, in := range sources {
		i := slices.IndexFunc(fw.endpoints, func(ep Endpoint) bool { return same(&ep, &in) })
		if i < 0 {
			fw.endpoints = append(fw.endpoints, Endpoint{AvailabilityZone: in.AvailabilityZone, VpcEndpointID: in.VpcEndpointID})
			i = len(fw.endpoints) - 1
		}
		if in.AssociationArn != "" {
			fw.endpoints[i].AssociationArn = in.AssociationArn
		}
		fw.srcEP = append(fw.srcEP, i)
	}
	if len(fw.endpoints) == 0 {
		// No sources yet: one unnamed endpoint, so that unscoped operations
		// run (on an empty table) and throttle each other.
		fw.endpoints = []Endpoint{{}}
	}
	return fw
}
