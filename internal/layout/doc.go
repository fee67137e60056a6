// Package layout holds no code: its test checks the import rules between
// flowd's packages (see layout_test.go), so that a wrong import fails
// `make test` with the rule it breaks.
package layout
