package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"
)

// The cases follow the AWS CLI's own behaviour (its shorthand tests and
// documentation).
func TestShorthand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // JSON of the result
	}{
		{`SourcePort=80`, `{"SourcePort":"80"}`},
		{`Protocols=6,17,SourcePort=ANY`, `{"Protocols":["6","17"],"SourcePort":"ANY"}`},
		{`Protocols=6,17`, `{"Protocols":["6","17"]}`},
		{`SourceAddress={AddressDefinition=10.0.0.0/8},DestinationPort=443`, `{"DestinationPort":"443","SourceAddress":{"AddressDefinition":"10.0.0.0/8"}}`},
		{`DestinationAddress={AddressDefinition=2001:db8::/32},DestinationPort=1024:65535`, `{"DestinationAddress":{"AddressDefinition":"2001:db8::/32"},"DestinationPort":"1024:65535"}`},
		{`Protocols=[6,17],SourcePort=1`, `{"Protocols":["6","17"],"SourcePort":"1"}`},
		{`Protocols=[]`, `{"Protocols":[]}`},
		{`Protocols=[ 6 , 17 ]`, `{"Protocols":["6","17"]}`},
		{`a=[{b=1},{b=2,c=[x]}]`, `{"a":[{"b":"1"},{"b":"2","c":["x"]}]}`},
		{`a=b=c`, `{"a":"b=c"}`},
		{`a='x,y',b="q\"q"`, `{"a":"x,y","b":"q\"q"}`},
		{`a=x\,y`, `{"a":"x,y"}`},
		{`a = b , c = d `, `{"a":"b","c":"d"}`},
		{`a=`, `{"a":""}`},
		{`a=,b=c`, `{"a":"","b":"c"}`},
		{`a=b,c`, `{"a":["b","c"]}`},
		{`a=b,c,d=e,f`, `{"a":["b","c"],"d":["e","f"]}`},
		{`a={}`, `{"a":{}}`},
		{`a=1,a=2`, `{"a":"2"}`},
	} {
		got, err := parseShorthand(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		b, _ := json.Marshal(got)
		if string(b) != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.in, b, c.want)
		}
	}
	for _, c := range []struct{ in, msg string }{
		{`SourcePort`, "Expected: '=', received: 'EOF' for input:\nSourcePort\n          ^"},
		{`a=[1,2`, "Expected: ',', received: 'EOF' for input:\na=[1,2\n      ^"},
		{`a={b}`, "Expected: '=', received: '}' for input:\na={b}\n    ^"},
		{`a=b c=d`, "Expected: ',', received: 'c' for input:\na=b c=d\n    ^"},
		{`a='open`, "Expected: '<singled quoted>', received: ''' for input:\na='open\n  ^"},
		{`=`, ""},
	} {
		_, err := parseShorthand(c.in)
		if c.msg == "" {
			continue
		}
		if err == nil || err.Error() != c.msg {
			t.Errorf("%s: %v\nwant %s", c.in, err, c.msg)
		}
	}
}

func TestParseFlowFilters(t *testing.T) {
	got, err := parseFlowFilters([]string{
		`SourceAddress={AddressDefinition=10.0.0.0/8},Protocols=6`,
		`[{"DestinationPort":"443","Protocols":[17]},{}]`,
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || *got[0].SourceAddress.AddressDefinition != "10.0.0.0/8" || !reflect.DeepEqual(got[0].Protocols, []string{"6"}) ||
		*got[1].DestinationPort != "443" || !reflect.DeepEqual(got[1].Protocols, []string{"17"}) || !reflect.DeepEqual(got[2], types.FlowFilter{}) {
		t.Fatalf("%+v", got)
	}
	al, err := parseFlowFilters([]string{`src=10.1.0.0/16,dport=443,proto=6,17`}, true)
	if err != nil || *al[0].SourceAddress.AddressDefinition != "10.1.0.0/16" || *al[0].DestinationPort != "443" || len(al[0].Protocols) != 2 {
		t.Fatalf("aliases: %+v %v", al, err)
	}
	for _, c := range []struct {
		in, msg string
		aliases bool
	}{
		{`Foo=1`, `Unknown parameter in FlowFilters[0]: "Foo", must be one of: DestinationAddress, DestinationPort, Protocols, SourceAddress, SourcePort`, false},
		{`src=1.2.3.4`, `Unknown parameter in FlowFilters[0]: "src"`, false},
		{`SourcePort=[1,2]`, `Invalid type for parameter FlowFilters[0].SourcePort, value: ["1","2"], type: list, valid types: string`, false},
		{`SourceAddress={Foo=x}`, `Unknown parameter in FlowFilters[0].SourceAddress: "Foo", must be one of: AddressDefinition`, false},
		{`[{"Protocols":[true]}]`, `Invalid type for parameter FlowFilters[0].Protocols[0], value: true, type: boolean, valid types: string`, false},
		{`[1]`, `Invalid type for parameter FlowFilters[0], value: 1, type: number, valid types: structure`, false},
		{`[{]`, `Invalid JSON`, false},
		{`SourcePort`, `Error parsing parameter: Expected: '='`, false},
	} {
		_, err := parseFlowFilters([]string{c.in}, c.aliases)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v\nwant %s", c.in, err, c.msg)
		}
	}
}

func TestExpandLists(t *testing.T) {
	got := expandLists([]string{"--flow-filters", "A=1", "B=2", "--firewall-arn", "x", "--flow-filters=C=3", "D=4"}, "flow-filters")
	want := []string{"--flow-filters", "A=1", "--flow-filters", "B=2", "--firewall-arn", "x", "--flow-filters=C=3", "--flow-filters", "D=4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q", got)
	}
}

// FuzzShorthand: the parser never panics, and what it returns holds only
// strings, lists and structures.
func FuzzShorthand(f *testing.F) {
	for _, s := range []string{
		`SourceAddress={AddressDefinition=10.0.0.0/8},DestinationPort=443,Protocols=6,17`,
		`Protocols=[6,17],SourcePort='1:2'`, `a=[{b=1},{b=2,c=[x]}]`, `a="q\"q",b=x\,y`, `a=b,c,d=e`, `=`, `a={`, `a=[`,
	} {
		f.Add(s)
	}
	var check func(t *testing.T, v any)
	check = func(t *testing.T, v any) {
		switch x := v.(type) {
		case string:
		case []any:
			for _, e := range x {
				check(t, e)
			}
		case map[string]any:
			for _, e := range x {
				check(t, e)
			}
		default:
			t.Fatalf("value of type %T", v)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseShorthand(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		check(t, m)
		// The same input always parses the same way.
		again, _ := parseShorthand(s)
		if !reflect.DeepEqual(m, again) {
			t.Fatal("parse is not deterministic")
		}
		parseFlowFilters([]string{s}, true)
	})
}
