package engine

import (
	"reflect"
	"testing"
)

// TestAddCountsCoversEveryCounter: AddCounts sums every counter of
// SourceStatus, so a counter added later cannot be left out of the
// per-interface sums of /status and /metrics; identity, progress and state
// stay as they are.
func TestAddCountsCoversEveryCounter(t *testing.T) {
	notCounts := map[string]bool{"ID": true, "Info": true, "Offset": true, "Size": true, "Up": true, "State": true, "EOF": true, "Err": true}
	var one SourceStatus
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Uint64:
			f.SetUint(1)
		case reflect.Array:
			for j := range f.Len() {
				f.Index(j).SetUint(1)
			}
		}
	}
	sum := one
	sum.AddCounts(&one)
	s := reflect.ValueOf(sum)
	for i := range s.NumField() {
		name, f := s.Type().Field(i).Name, s.Field(i)
		want := uint64(2)
		if notCounts[name] {
			if !reflect.DeepEqual(f.Interface(), v.Field(i).Interface()) {
				t.Errorf("%s changed: %v", name, f.Interface())
			}
			continue
		}
		switch f.Kind() {
		case reflect.Uint64:
			if f.Uint() != want {
				t.Errorf("%s: %d after adding 1 to 1", name, f.Uint())
			}
		case reflect.Array:
			for j := range f.Len() {
				if f.Index(j).Uint() != want {
					t.Errorf("%s[%d]: %d after adding 1 to 1", name, j, f.Index(j).Uint())
				}
			}
		default:
			t.Errorf("%s (%s) is neither a counter nor listed as identity or state", name, f.Kind())
		}
	}
}
