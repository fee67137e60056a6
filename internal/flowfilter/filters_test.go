package flowfilter

import (
	"errors"
	"reflect"
	"testing"
)

// The shorthand, the JSON syntax and the aliases say the same filter.
func TestParseSyntaxesAgree(t *testing.T) {
	short, err := Parse([]string{"SourceAddress={AddressDefinition=10.0.0.0/8},DestinationPort=443,Protocols=6,17"}, false)
	if err != nil {
		t.Fatal(err)
	}
	js, err := Parse([]string{`[{"SourceAddress":{"AddressDefinition":"10.0.0.0/8"},"DestinationPort":"443","Protocols":["6","17"]}]`}, false)
	if err != nil {
		t.Fatal(err)
	}
	alias, err := Parse([]string{"src=10.0.0.0/8,dport=443,proto=6,17"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(short, js) || !reflect.DeepEqual(short, alias) || len(short) != 1 {
		t.Fatalf("shorthand %+v\njson %+v\nalias %+v", short, js, alias)
	}
	_, err = Parse([]string{"Nope=1"}, false)
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("unknown member: %v, want an *Error", err)
	}
}
