package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flowd/flowd/flowlog"
)

// A config file is YAML whose keys are the command's flag names (without
// the dashes): every flag is a config key, and a flag given on the command
// line overrides the file. A repeatable flag takes a list. Keys a command
// has no flag for are an error, so typos do not pass silently.
//
//	listen: 127.0.0.1:4566
//	workers: 2
//	timeout-tcp-established: 350s
//	pcap:
//	  - edge.pcap
//	  - core=/captures/core-1.pcapng
//	  - file: /captures/b.pcap          # or a mapping, to place a source
//	    name: b
//	    availability-zone: us-east-1b
//	    vpc-endpoint-id: vpce-0b
//	    vpc-endpoint-association-arn: arn:aws:network-firewall:...:vpc-endpoint-association/x
//	    interface-id: eni-0123456789abcdef0   # the VPC flow log resource
//	    subnet-id: subnet-0123456789abcdef0   # (each unset key takes the
//	    vpc-id: vpc-0123456789abcdef0         # default of a source without
//	    instance-id: i-0123456789abcdef0      # config: one VPC, one subnet,
//	    account-id: "123456789012"            # an eni id made from the name)
//	    region: us-east-1
//	    az-id: use1-az1
//	    local-addresses: [10.0.0.5, 2001:db8::5]   # decide flow-direction

// pcapSpec is one --pcap source, with the endpoint it belongs to when the
// config file places it (empty fields: the command's defaults).
type pcapSpec struct {
	Name, Path       string // Name empty: named after the file
	AvailabilityZone string
	VpcEndpointID    string
	AssociationArn   string
	Iface            ifaceSpec // the flow log interface's metadata
}

// ifaceSpec is what a config file says of a source's network interface, for
// VPC flow logs; empty fields take the defaults.
type ifaceSpec struct {
	InterfaceID    string   `yaml:"interface-id"`
	SubnetID       string   `yaml:"subnet-id"`
	VPCID          string   `yaml:"vpc-id"`
	InstanceID     string   `yaml:"instance-id"`
	AccountID      string   `yaml:"account-id"`
	Region         string   `yaml:"region"`
	AZID           string   `yaml:"az-id"`
	LocalAddresses []string `yaml:"local-addresses"`
}

// ifaceKeys are the ifaceSpec keys of a pcap mapping.
var ifaceKeys = []string{"interface-id", "subnet-id", "vpc-id", "instance-id", "account-id", "region", "az-id", "local-addresses"}

// flowLogInterface is the flow log interface of the source named name: the
// defaults with what the config set.
func (s ifaceSpec) flowLogInterface(name string) (flowlog.Interface, error) {
	return s.apply(flowlog.DefaultInterface(name))
}

// apply sets on in what the config set; its local addresses replace in's.
func (s ifaceSpec) apply(in flowlog.Interface) (flowlog.Interface, error) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&in.InterfaceID, s.InterfaceID)
	set(&in.SubnetID, s.SubnetID)
	set(&in.VPCID, s.VPCID)
	set(&in.InstanceID, s.InstanceID)
	set(&in.AccountID, s.AccountID)
	set(&in.Region, s.Region)
	set(&in.AZID, s.AZID)
	if len(s.LocalAddresses) > 0 {
		in.Local = nil
	}
	for _, a := range s.LocalAddresses {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return in, fmt.Errorf("source %s: local-addresses: %q is not an IP address", in.Name, a)
		}
		in.Local = append(in.Local, ip)
	}
	return in, nil
}

// yamlValue is a flag whose config-file value may be a structure:
// loadConfig hands it the YAML node instead of setting it from scalars.
type yamlValue interface {
	decodeYAML(node *yaml.Node) error
}

// ifaceFlag is --iface: interface names, and in a config file also
// mappings that give an interface's flow log metadata:
//
//	iface:
//	  - eth0
//	  - name: eth1
//	    interface-id: eni-0123456789abcdef0
//	    subnet-id: subnet-0123456789abcdef0
type ifaceFlag struct{ l *liveFlags }

func (f ifaceFlag) String() string {
	if f.l == nil {
		return ""
	}
	return f.l.ifaces.String()
}

func (f ifaceFlag) Set(v string) error { return f.l.ifaces.Set(v) }

func (f ifaceFlag) decodeYAML(node *yaml.Node) error {
	return decodeItems(node, "an interface name", f.Set, func(it *yaml.Node) error {
		var m struct {
			Name      string `yaml:"name"`
			ifaceSpec `yaml:",inline"`
		}
		if err := checkKeys(it, append([]string{"name"}, ifaceKeys...)...); err != nil {
			return err
		}
		if err := it.Decode(&m); err != nil {
			return err
		}
		if err := f.Set(m.Name); err != nil {
			return fmt.Errorf("name: %w", err)
		}
		if f.l.meta == nil {
			f.l.meta = map[string]ifaceSpec{}
		}
		f.l.meta[m.Name] = m.ifaceSpec
		return nil
	})
}

// parsePcapArg reads FILE or NAME=FILE. A file whose own name holds an =
// stays a file.
func parsePcapArg(v string) pcapSpec {
	if i := strings.IndexByte(v, '='); i > 0 {
		if _, err := os.Stat(v); err != nil {
			return pcapSpec{Name: v[:i], Path: v[i+1:]}
		}
	}
	return pcapSpec{Path: v}
}

// pcapList is the repeatable --pcap flag.
type pcapList []pcapSpec

func (l *pcapList) String() string {
	var s []string
	for _, p := range *l {
		if p.Name != "" {
			s = append(s, p.Name+"="+p.Path)
		} else {
			s = append(s, p.Path)
		}
	}
	return strings.Join(s, ",")
}

func (l *pcapList) Set(v string) error {
	if v == "" {
		return errors.New("empty file name")
	}
	*l = append(*l, parsePcapArg(v))
	return nil
}

// loadConfig applies the YAML file at path to fs: every key sets the flag
// of the same name, unless that flag was given on the command line. A flag
// that is a yamlValue (pcap, iface) decodes its node itself: its items may
// be mappings (see above).
func loadConfig(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, key := range slices.Sorted(maps.Keys(doc)) {
		node := doc[key]
		where := fmt.Sprintf("config %s:%d: %s", path, node.Line, key)
		if key == "config" || fs.Lookup(key) == nil {
			return fmt.Errorf("%s: unknown key (the keys are the flag names of the command; see -h)", where)
		}
		if given[key] {
			continue
		}
		if yv, ok := fs.Lookup(key).Value.(yamlValue); ok {
			if err := yv.decodeYAML(&node); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			continue
		}
		values := []*yaml.Node{&node}
		if node.Kind == yaml.SequenceNode {
			// A list sets a repeatable flag once per item.
			values = node.Content
		}
		for _, v := range values {
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s: want a value or a list of values", where)
			}
			if err := fs.Set(key, v.Value); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

// decodeYAML implements yamlValue: file names, or mappings that place a
// source (see above).
func (l *pcapList) decodeYAML(node *yaml.Node) error {
	return decodeItems(node, "a file name", l.Set, func(it *yaml.Node) error {
		var m struct {
			File             string `yaml:"file"`
			Name             string `yaml:"name"`
			AvailabilityZone string `yaml:"availability-zone"`
			VpcEndpointID    string `yaml:"vpc-endpoint-id"`
			AssociationArn   string `yaml:"vpc-endpoint-association-arn"`
			ifaceSpec        `yaml:",inline"`
		}
		if err := it.Decode(&m); err != nil {
			return err
		}
		if err := checkKeys(it, append([]string{"file", "name", "availability-zone", "vpc-endpoint-id", "vpc-endpoint-association-arn"}, ifaceKeys...)...); err != nil {
			return err
		}
		if m.File == "" {
			return errors.New("no file")
		}
		*l = append(*l, pcapSpec{Name: m.Name, Path: m.File, AvailabilityZone: m.AvailabilityZone,
			VpcEndpointID: m.VpcEndpointID, AssociationArn: m.AssociationArn, Iface: m.ifaceSpec})
		return nil
	})
}

// decodeItems decodes a list flag's config value: one item or a list of
// them, each a scalar (set) or a mapping (mapping); errors name the item.
func decodeItems(node *yaml.Node, scalar string, set func(string) error, mapping func(*yaml.Node) error) error {
	items := []*yaml.Node{node}
	if node.Kind == yaml.SequenceNode {
		items = node.Content
	}
	for i, it := range items {
		var err error
		switch it.Kind {
		case yaml.ScalarNode:
			err = set(it.Value)
		case yaml.MappingNode:
			err = mapping(it)
		default:
			err = fmt.Errorf("want %s or a mapping", scalar)
		}
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	return nil
}

// checkKeys rejects mapping keys not in known.
func checkKeys(m *yaml.Node, known ...string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		ok := false
		for _, want := range known {
			ok = ok || k == want
		}
		if !ok {
			return fmt.Errorf("unknown key %q (want %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}
