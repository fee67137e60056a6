package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The request decoder reads a body into a tree of raw members first and
// then each known member with the type its shape wants, so that an error
// names the member (with its path: FlowFilters[2].SourcePort) and the rule.
// Member names match exactly (encoding/json alone would fold case);
// unknown members are ignored and null is the same as absent, as smithy
// servers do.

// object is one JSON object of a request, with its path for messages.
type object struct {
	path string // "" at the top, else "Member." or "Member[3]."
	m    map[string]json.RawMessage
}

// parseBody decodes a request body: a JSON object (an empty body counts as
// {}).
func parseBody(body []byte) (object, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return object{m: map[string]json.RawMessage{}}, nil
	}
	if !utf8.Valid(body) {
		return object{}, errInvalid("the request body is not valid UTF-8")
	}
	if body[0] != '{' {
		return object{}, errInvalid("the request body is not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return object{}, errInvalid("the request body is not valid JSON: %s", jsonProblem(err))
	}
	return object{m: m}, nil
}

// jsonProblem words an encoding/json syntax error for a message.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " (at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	}
	return err.Error()
}

// kind names the JSON type of a raw value, for messages.
func kind(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

// raw returns member name, or nil when it is absent or null.
func (o object) raw(name string) json.RawMessage {
	v, ok := o.m[name]
	if !ok || isNull(v) {
		return nil
	}
	return v
}

func (o object) wrongType(name, want string, v json.RawMessage) *Error {
	return errInvalid("%s%s: expected %s, got %s", o.path, name, want, kind(v))
}

func missing(path string) *Error {
	return errInvalid("%s: the member is required", path)
}

// str reads a string member; nil when absent.
func (o object) str(name string) (*string, *Error) {
	v := o.raw(name)
	if v == nil {
		return nil, nil
	}
	if v[0] != '"' {
		return nil, o.wrongType(name, "a string", v)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, errInvalid("%s%s: %s", o.path, name, jsonProblem(err))
	}
	return &s, nil
}

// integer reads an integer member within [lo, hi]; nil when absent.
func (o object) integer(name string, lo, hi int64) (*int64, *Error) {
	v := o.raw(name)
	if v == nil {
		return nil, nil
	}
	if k := kind(v); k != "a number" {
		return nil, o.wrongType(name, "an integer", v)
	}
	s := string(v)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.ContainsAny(s, ".eE") {
			if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
				n, err = int64(f), nil
			} else if ferr == nil && f != math.Trunc(f) {
				return nil, errInvalid("%s%s: %s is not an integer", o.path, name, clip(s))
			}
		}
		if err != nil {
			return nil, errInvalid("%s%s: %s is out of range: want %d to %d", o.path, name, clip(s), lo, hi)
		}
	}
	if n < lo || n > hi {
		return nil, errInvalid("%s%s: %d is out of range: want %d to %d", o.path, name, n, lo, hi)
	}
	return &n, nil
}

// obj reads an object member; ok is false when absent.
func (o object) obj(name string) (object, bool, *Error) {
	v := o.raw(name)
	if v == nil {
		return object{}, false, nil
	}
	if v[0] != '{' {
		return object{}, false, o.wrongType(name, "an object", v)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return object{}, false, errInvalid("%s%s: %s", o.path, name, jsonProblem(err))
	}
	return object{path: o.path + name + ".", m: m}, true, nil
}

// array reads an array member; ok is false when absent.
func (o object) array(name string) ([]json.RawMessage, bool, *Error) {
	v := o.raw(name)
	if v == nil {
		return nil, false, nil
	}
	if v[0] != '[' {
		return nil, false, o.wrongType(name, "an array", v)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, false, errInvalid("%s%s: %s", o.path, name, jsonProblem(err))
	}
	if a == nil {
		a = []json.RawMessage{}
	}
	return a, true, nil
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// quote quotes a string value for a message, clipped.
func quote(s string) string {
	const most = 64
	if len(s) <= most {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:most]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
