package apispec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ISC's filter language, as https://developer.sailpoint.com/docs/api/
// standard-collection-parameters describes it:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | "pr" field | field "isnull"
//	        | field ("in" | "ca") list | field op value
//	op      = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "co" | "sw"
//	list    = "(" value { "," value } ")"
//	value   = string | number | "true" | "false" | "null" | date-time
//
// Operators are lowercase only ("EQ" is not one). Strings are in double
// quotes, with \" and \\ their only escapes. Date-times are RFC 3339, written
// bare in SailPoint's examples (created gt 2018-12-18T23:05:55Z) and in the
// exporter's requests (modified ge 2026-12-01T00:00:00.000Z). not binds
// tighter than and, and than or.

// comparison is one primitive expression of a filter.
type comparison struct {
	field  string
	op     string
	values []token // none for pr and isnull
}

type tokenKind int

const (
	tWord   tokenKind = iota // field, operator, keyword, bare value
	tString                  // "…", unquoted
	tOpen
	tClose
	tComma
	tEnd
)

type token struct {
	kind tokenKind
	text string // the word, or the string's value
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tString:
		return strconv.Quote(t.text)
	case tEnd:
		return "the end"
	}
	return t.text
}

var comparisonOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true, "co": true, "sw": true}

// fieldName is what a field can be: name, owner.id, managementWorkgroup.id.
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// number is a bare numeric value.
var number = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		case '(':
			out = append(out, token{tOpen, "(", i})
			i++
		case ')':
			out = append(out, token{tClose, ")", i})
			i++
		case ',':
			out = append(out, token{tComma, ",", i})
			i++
		case '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					if j+1 >= len(s) || (s[j+1] != '"' && s[j+1] != '\\') {
						return nil, fmt.Errorf("at %d: a backslash escapes only \" and \\ in a string", j)
					}
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("at %d: a string without its closing quote", i)
			}
			out = append(out, token{tString, b.String(), i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r(),\"", rune(s[j])) {
				j++
			}
			out = append(out, token{tWord, s[i:j], i})
			i = j
		}
	}
	return append(out, token{tEnd, "", len(s)}), nil
}

type filterParser struct {
	toks []token
	i    int
	out  []comparison
}

// parseFilter parses a filters value into its comparisons.
func parseFilter(s string) ([]comparison, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	if p.peek().kind == tEnd {
		return nil, fmt.Errorf("an empty filter")
	}
	if err := p.expr(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEnd {
		return nil, fmt.Errorf("at %d: %s after a complete expression", t.pos, t)
	}
	return p.out, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEnd {
		p.i++
	}
	return t
}
func (p *filterParser) word(w string) bool {
	if t := p.peek(); t.kind == tWord && t.text == w {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) expr() error {
	if err := p.and(); err != nil {
		return err
	}
	for p.word("or") {
		if err := p.and(); err != nil {
			return err
		}
	}
	return nil
}

func (p *filterParser) and() error {
	if err := p.unary(); err != nil {
		return err
	}
	for p.word("and") {
		if err := p.unary(); err != nil {
			return err
		}
	}
	return nil
}

func (p *filterParser) unary() error {
	if p.word("not") {
		return p.unary()
	}
	return p.primary()
}

func (p *filterParser) primary() error {
	t := p.next()
	switch {
	case t.kind == tOpen:
		if err := p.expr(); err != nil {
			return err
		}
		if c := p.next(); c.kind != tClose {
			return fmt.Errorf("at %d: %s where ) closes the ( at %d", c.pos, c, t.pos)
		}
		return nil
	case t.kind == tWord && t.text == "pr":
		f := p.next()
		if f.kind != tWord || !fieldName.MatchString(f.text) {
			return fmt.Errorf("at %d: %s where pr wants a field", f.pos, f)
		}
		p.out = append(p.out, comparison{field: f.text, op: "pr"})
		return nil
	case t.kind != tWord:
		return fmt.Errorf("at %d: %s where a field or ( starts an expression", t.pos, t)
	case !fieldName.MatchString(t.text):
		return fmt.Errorf("at %d: %s is not a field name", t.pos, t)
	}
	field := t.text
	o := p.next()
	if o.kind != tWord {
		return fmt.Errorf("at %d: %s where an operator follows the field %s", o.pos, o, field)
	}
	switch {
	case o.text == "isnull":
		p.out = append(p.out, comparison{field: field, op: "isnull"})
		return nil
	case o.text == "in" || o.text == "ca":
		open := p.next()
		if open.kind != tOpen {
			return fmt.Errorf("at %d: %s where %s wants a list in parentheses", open.pos, open, o.text)
		}
		c := comparison{field: field, op: o.text}
		for {
			v := p.next()
			if err := checkLiteral(v); err != nil {
				return err
			}
			c.values = append(c.values, v)
			sep := p.next()
			if sep.kind == tClose {
				break
			}
			if sep.kind != tComma {
				return fmt.Errorf("at %d: %s where a list goes on with , or ends with )", sep.pos, sep)
			}
		}
		p.out = append(p.out, c)
		return nil
	case comparisonOps[o.text]:
		v := p.next()
		if err := checkLiteral(v); err != nil {
			return err
		}
		p.out = append(p.out, comparison{field: field, op: o.text, values: []token{v}})
		return nil
	case comparisonOps[strings.ToLower(o.text)] || strings.ToLower(o.text) == "in" || strings.ToLower(o.text) == "isnull":
		return fmt.Errorf("at %d: operator %s is not lowercase", o.pos, o.text)
	}
	return fmt.Errorf("at %d: %s is not an operator", o.pos, o)
}

// checkLiteral fails for a token that is not a value: a string, a number,
// true, false, null or an RFC 3339 date-time.
func checkLiteral(t token) error {
	switch {
	case t.kind == tString:
		return nil
	case t.kind != tWord:
		return fmt.Errorf("at %d: %s where a value is wanted", t.pos, t)
	case t.text == "true" || t.text == "false" || t.text == "null" || number.MatchString(t.text) || isDateTime(t.text):
		return nil
	}
	return fmt.Errorf("at %d: %s is not a value: strings are in double quotes; numbers, true, false, null and RFC 3339 date-times are bare", t.pos, t.text)
}

func isDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// The lists of what an operation filters and sorts on, from its parameters'
// descriptions:
//
//	Filtering is supported for the following fields and operators:
//	**id**: *eq, in*
//	…
//	Sorting is supported for the following fields: **type, created, modified**
var (
	filterIntro = regexp.MustCompile(`Filtering is supported for the following fields and operators`)
	filterField = regexp.MustCompile(`\*\*([A-Za-z0-9_.]+)\*\*\s*:\s*\*([a-z, ]+)\*`)
	sortingList = regexp.MustCompile(`Sorting is supported for the following fields:\s*\*\*([^*]+)\*\*`)
)

// filterFields parses the fields and operators a filters description
// lists; ok is false if it lists none.
func filterFields(description string) (fields map[string][]string, ok bool) {
	loc := filterIntro.FindStringIndex(description)
	if loc == nil {
		return nil, false
	}
	fields = map[string][]string{}
	for _, m := range filterField.FindAllStringSubmatch(description[loc[1]:], -1) {
		for o := range strings.SplitSeq(m[2], ",") {
			if o = strings.TrimSpace(o); o != "" {
				fields[m[1]] = append(fields[m[1]], o)
			}
		}
	}
	return fields, len(fields) > 0
}

// sortFields parses the fields a sorters description lists; ok is false if
// it lists none.
func sortFields(description string) (fields []string, ok bool) {
	m := sortingList.FindStringSubmatch(description)
	if m == nil {
		return nil, false
	}
	for f := range strings.SplitSeq(m[1], ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return fields, len(fields) > 0
}
