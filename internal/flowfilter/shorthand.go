package flowfilter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The AWS CLI shorthand syntax, as the AWS CLI parses it (awscli/shorthand.py
// describes the grammar; this is a re-implementation of it):
//
//	parameter     = keyval *("," keyval)
//	keyval        = key "=" [values]
//	key           = *(ALPHA / DIGIT)
//	values        = csv-value / explicit-list / hash-literal
//	csv-value     = first-value *("," second-value)   ; a=b,c -> ["b","c"]
//	explicit-list = "[" [evalue *("," evalue)] "]"
//	hash-literal  = "{" key "=" evalue *("," key "=" evalue) "}"
//	evalue        = explicit-list / hash-literal / first-value
//	first-value   = 'single quoted' / "double quoted" / plain value
//
// A plain value may hold '=' after its first character but no blank, quote,
// ',' ']' or '}'; "\," is a literal comma. In a csv-value, a later item that
// turns out to be the next "key=" ends the list: Protocols=6,17,SourcePort=ANY
// is {Protocols: [6 17], SourcePort: ANY}. Values are strings, lists
// ([]any) and structures (map[string]any); a value's type is fixed by the
// model afterwards (see filters.go).

// shorthandError is a parse error, worded as the AWS CLI words it.
type shorthandError struct {
	input    string
	expected string
	actual   string
	index    int
}

func (e *shorthandError) Error() string {
	line := e.input
	col := e.index
	if i := strings.LastIndexByte(e.input[:e.index], '\n'); i >= 0 {
		col = e.index - i - 1
	}
	return fmt.Sprintf("Expected: '%s', received: '%s' for input:\n%s\n%s^", e.expected, e.actual, line, strings.Repeat(" ", max(col, 0)))
}

type shorthand struct {
	in string
	i  int
}

// ParseShorthand parses one shorthand parameter into a structure.
func ParseShorthand(s string) (map[string]any, error) {
	p := &shorthand{in: s}
	return p.parameter()
}

func (p *shorthand) eof() bool { return p.i >= len(p.in) }

func (p *shorthand) cur() byte {
	if p.eof() {
		return 0
	}
	return p.in[p.i]
}

func (p *shorthand) fail(expected string) error {
	actual := "EOF"
	if !p.eof() {
		r, _ := utf8.DecodeRuneInString(p.in[p.i:])
		actual = string(r)
	}
	return &shorthandError{input: p.in, expected: expected, actual: actual, index: p.i}
}

func (p *shorthand) blanks() {
	for !p.eof() && strings.IndexByte(" \t\n\r\v\f", p.in[p.i]) >= 0 {
		p.i++
	}
}

func (p *shorthand) expect(c byte, blanks bool) error {
	if blanks {
		p.blanks()
	}
	if p.eof() || p.in[p.i] != c {
		return p.fail(string(c))
	}
	p.i++
	if blanks {
		p.blanks()
	}
	return nil
}

func (p *shorthand) parameter() (map[string]any, error) {
	out := map[string]any{}
	if err := p.keyval(out); err != nil {
		return nil, err
	}
	for !p.eof() {
		if err := p.expect(',', true); err != nil {
			return nil, err
		}
		if err := p.keyval(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *shorthand) keyval(out map[string]any) error {
	k := p.key()
	if err := p.expect('=', true); err != nil {
		return err
	}
	v, err := p.values()
	if err != nil {
		return err
	}
	out[k] = v
	return nil
}

func (p *shorthand) key() string {
	start := p.i
	for !p.eof() {
		c := p.in[p.i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			break
		}
		p.i++
	}
	return p.in[start:p.i]
}

func (p *shorthand) values() (any, error) {
	switch {
	case p.eof():
		return "", nil
	case p.cur() == '[':
		return p.list()
	case p.cur() == '{':
		return p.hash()
	}
	return p.csv()
}

func (p *shorthand) csv() (any, error) {
	first, err := p.first()
	if err != nil {
		return nil, err
	}
	p.blanks()
	if p.eof() || p.cur() != ',' {
		return first, nil
	}
	comma := p.i // the comma before the item being read
	p.i++
	p.blanks()
	items := []any{first}
	for {
		v, err := p.second()
		if err == nil {
			p.blanks()
			if p.eof() {
				items = append(items, v)
				break
			}
			if p.cur() == ',' {
				items = append(items, v)
				comma = p.i
				p.i++
				p.blanks()
				continue
			}
			err = p.fail(",")
		}
		if p.eof() {
			return nil, err
		}
		// Not a list item but the next key=...: back to the comma before it.
		p.i = comma
		break
	}
	if len(items) == 1 {
		return first, nil
	}
	return items, nil
}

func (p *shorthand) list() (any, error) {
	if err := p.expect('[', true); err != nil {
		return nil, err
	}
	items := []any{}
	for p.cur() != ']' {
		if p.eof() {
			return nil, p.fail("]")
		}
		v, err := p.evalue()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.blanks()
		if p.cur() != ']' {
			if err := p.expect(',', false); err != nil {
				return nil, err
			}
			p.blanks()
		}
	}
	return items, p.expect(']', false)
}

func (p *shorthand) hash() (any, error) {
	if err := p.expect('{', true); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for p.cur() != '}' {
		if p.eof() {
			return nil, p.fail("}")
		}
		k := p.key()
		if err := p.expect('=', true); err != nil {
			return nil, err
		}
		v, err := p.evalue()
		if err != nil {
			return nil, err
		}
		p.blanks()
		if p.cur() != '}' {
			if err := p.expect(',', false); err != nil {
				return nil, err
			}
			p.blanks()
		}
		out[k] = v
	}
	return out, p.expect('}', false)
}

func (p *shorthand) evalue() (any, error) {
	switch p.cur() {
	case '[':
		return p.list()
	case '{':
		return p.hash()
	}
	return p.first()
}

func (p *shorthand) first() (string, error) {
	switch p.cur() {
	case '\'', '"':
		return p.quoted(p.cur())
	}
	return p.plain(false), nil
}

func (p *shorthand) second() (string, error) {
	switch p.cur() {
	case '\'', '"':
		return p.quoted(p.cur())
	}
	start := p.i
	v := p.plain(true)
	if p.i == start {
		return "", p.fail("<second>")
	}
	return v, nil
}

// quoted reads a quoted value; inside, \q and \\ escape the quote and the
// backslash.
func (p *shorthand) quoted(q byte) (string, error) {
	start := p.i
	name := "singled quoted"
	if q == '"' {
		name = "double quoted"
	}
	var b strings.Builder
	for i := p.i + 1; i < len(p.in); i++ {
		c := p.in[i]
		if c == '\\' && i+1 < len(p.in) && (p.in[i+1] == q || p.in[i+1] == '\\') {
			b.WriteByte(p.in[i+1])
			i++
			continue
		}
		if c == q {
			p.i = i + 1
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	p.i = start
	return "", p.fail("<" + name + ">")
}

// plain reads an unquoted value. Its first character may not be a blank,
// quote, ',', '=', '[' or '{'; later ones may not be a blank, quote, ',',
// ']' or '}' (first values), or a blank, quote, ',' or '=' (second values).
// "\," is a comma.
func (p *shorthand) plain(second bool) string {
	var b strings.Builder
	for n := 0; !p.eof(); n++ {
		if strings.HasPrefix(p.in[p.i:], `\,`) {
			b.WriteByte(',')
			p.i += 2
			continue
		}
		c := p.in[p.i]
		stop := c <= ' ' || c == '"' || c == '\'' || c == ','
		switch {
		case n == 0:
			stop = stop || c == '=' || c == '[' || c == '{'
		case second:
			stop = stop || c == '='
		default:
			stop = stop || c == ']' || c == '}'
		}
		if stop {
			break
		}
		b.WriteByte(c)
		p.i++
	}
	return b.String()
}
