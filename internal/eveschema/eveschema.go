// Package eveschema gives tests Suricata's published EVE JSON schema,
// compiled. The schema is not part of the repository: it is read from
// ../shared/reference beside the checkout, and a test that needs it skips,
// saying so, where it is not there.
package eveschema

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Path is where the schema is looked for: ../shared/reference beside the
// repository's root, found from this file's own location, so the same
// path serves tests in any package.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	return filepath.Join(root, "..", "shared", "reference", "suricata-eve-schema.json")
}

// Load compiles the schema, or skips t when it is not there.
func Load(t testing.TB) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(Path())
	if err != nil {
		t.Skipf("Suricata's EVE schema is not at %s (%v): the events are checked where it is", Path(), err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("eve.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("eve.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}
