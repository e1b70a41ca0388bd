package simtenant

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file implements SailPoint's standard collection parameters (limit,
// offset, count, filters, sorters; developer.sailpoint.com, "Standard
// Collection Parameters") once for every collection the tenant serves, with
// a real parser, so what a client sends is checked independently rather than
// compared with what we expect it to send. Each collection declares its
// fields: how values parse and compare, which filter operators the spec
// documents and whether it documents sorting. Anything else is a 400, as on
// ISC, because that is what catches drift in what a client sends.
//
// Filter grammar, with the documented precedence not > and > or:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | "pr" field | field "isnull"
//	        | field ("in" | "ca") "(" value { "," value } ")"
//	        | field op value
//	value   = quoted string | bare word (date-times and booleans may be bare)
//
// Null semantics: every comparison with a null value is false, ne included,
// and only isnull matches null. not simply negates, so "not type eq x" is
// true for a null type.

const maxLimit = 250

// kind says how a field's operands parse and how its values compare.
type kind int

const (
	kString kind = iota // double-quoted operands, compared byte-wise
	kTime               // ISO-8601 date-times, compared at millisecond precision
	kBool               // true or false
	kList               // a list of strings: co has one operand, ca all of them
)

// value is one field of one item, as filters and sorters see it.
type value struct {
	null bool
	s    string   // kString; an operand of sw on a kTime field
	n    int64    // kTime: Unix milliseconds; kBool: 0 or 1
	list []string // kList
}

func str(s string) value { return value{s: s} }

func strPtr(s *string) value {
	if s == nil {
		return value{null: true}
	}
	return str(*s)
}

func boolValue(b bool) value {
	if b {
		return value{n: 1}
	}
	return value{}
}

func msValue(t time.Time) value { return value{n: t.UnixMilli()} }

// field is one property of a collection's items.
type field[T any] struct {
	kind kind
	ops  []string // filter operators the spec documents; none: not filterable
	sort bool     // whether the spec documents it as a sorter
	get  func(*T) value
}

func ops(s string) []string { return strings.Fields(s) }

// collection describes what a list endpoint accepts.
type collection[T any] struct {
	fields map[string]field[T]
	id     func(*T) string // the last key of every sort order, so paging is stable
	// andOnly is for collections whose spec joins conditions with and only:
	// or and not are a 400 there.
	andOnly bool
}

// query is a validated list request.
type query[T any] struct {
	limit, offset int
	count         bool
	match         func(*T) bool     // nil matches everything
	cmp           func(x, y *T) int // nil keeps the collection's own order
}

func badRequest(text string) *reply {
	r := errorDTO(http.StatusBadRequest, text)
	return &r
}

func queryValue(q url.Values, key string) (string, bool) {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseQuery validates every parameter before any data is read; the first
// problem found is the 400's message.
func parseQuery[T any](q url.Values, c *collection[T]) (query[T], *reply) {
	lq := query[T]{limit: maxLimit}
	if v, ok := queryValue(q, "limit"); ok {
		n, err := strconv.ParseInt(v, 10, 32) // the spec says int32
		if err != nil || n < 0 || n > maxLimit {
			return lq, badRequest("Invalid value for query parameter 'limit': '" + v + "'. It must be an integer between 0 and 250.")
		}
		lq.limit = int(n)
	}
	if v, ok := queryValue(q, "offset"); ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return lq, badRequest("Invalid value for query parameter 'offset': '" + v + "'. It must be a non-negative 32-bit integer.")
		}
		lq.offset = int(n)
	}
	if v, ok := queryValue(q, "count"); ok {
		switch strings.ToLower(v) {
		case "true":
			lq.count = true
		case "false":
		default:
			return lq, badRequest("Invalid value for query parameter 'count': '" + v + "'. It must be true or false.")
		}
	}
	if v, ok := queryValue(q, "filters"); ok {
		f, err := c.parseFilter(v)
		if err != nil {
			return lq, badRequest("Invalid filter expression: " + err.Error())
		}
		lq.match = f
	}
	if v, ok := queryValue(q, "sorters"); ok {
		s, err := c.parseSorters(v)
		if err != nil {
			return lq, badRequest(fmt.Sprintf("Invalid sorters %q: %v", v, err))
		}
		lq.cmp = s
	}
	return lq, nil
}

// selectPage returns the page of items the query asks for, in its order,
// and how many items match in all. Without sorters the items are already in
// the collection's order and the scan stops at the end of the page unless a
// count is wanted; with sorters every match is sorted.
func selectPage[T any](items []T, q *query[T]) (page []*T, total int) {
	if q.cmp == nil {
		for i := range items {
			x := &items[i]
			if q.match != nil && !q.match(x) {
				continue
			}
			if total >= q.offset && len(page) < q.limit {
				page = append(page, x)
			} else if len(page) == q.limit && !q.count {
				break
			}
			total++
		}
		return page, total
	}
	var matches []*T
	for i := range items {
		if x := &items[i]; q.match == nil || q.match(x) {
			matches = append(matches, x)
		}
	}
	slices.SortFunc(matches, q.cmp)
	return matches[min(q.offset, len(matches)):min(q.offset+q.limit, len(matches))], len(matches)
}

// names lists the fields that pass keep, for error messages.
func (c *collection[T]) names(keep func(field[T]) bool) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.fields)) {
		if keep(c.fields[name]) {
			out = append(out, name)
		}
	}
	return strings.Join(out, ", ")
}

// parseSorters reads comma-separated fields, "-" for descending. Items
// compare by the keys, then by id ascending whatever the direction, so equal
// keys (a bulk refresh shares one instant) still page stably with offset.
// Nulls come first ascending, hence last descending.
func (c *collection[T]) parseSorters(s string) (func(x, y *T) int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	type key struct {
		get        func(*T) value
		kind       kind
		descending bool
	}
	var keys []key
	for part := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(part)
		desc := false
		if rest, ok := strings.CutPrefix(name, "-"); ok {
			desc, name = true, rest
		}
		f, ok := c.fields[name]
		switch {
		case name == "":
			return nil, errors.New("empty sort field")
		case !ok || !f.sort:
			supported := c.names(func(f field[T]) bool { return f.sort })
			if supported == "" {
				return nil, errors.New("sorting is not supported on this collection")
			}
			return nil, fmt.Errorf("sorting on '%s' is not supported; supported fields are %s", name, supported)
		}
		keys = append(keys, key{f.get, f.kind, desc})
	}
	return func(x, y *T) int {
		for _, k := range keys {
			vx, vy := k.get(x), k.get(y)
			var r int
			switch {
			case vx.null && vy.null:
			case vx.null:
				r = -1
			case vy.null:
				r = 1
			default:
				r = compareValues(k.kind, vx, vy)
			}
			if k.descending {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return strings.Compare(c.id(x), c.id(y))
	}, nil
}

func compareValues(k kind, x, y value) int {
	if k == kString || k == kList {
		return strings.Compare(x.s, y.s)
	}
	return cmpInt(x.n, y.n)
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// knownOperators are all primitive operators of the language. They parse
// even where a collection rejects them, so the error says "not supported"
// rather than "syntax error".
var knownOperators = []string{"eq", "ne", "gt", "ge", "lt", "le", "in", "sw", "co", "ca", "isnull", "pr"}

type tokKind int

const (
	tkEOF tokKind = iota
	tkLParen
	tkRParen
	tkComma
	tkString // double-quoted, escapes resolved
	tkWord   // anything else up to a delimiter: names, operators, bare values
)

type lexToken struct {
	kind tokKind
	text string
	pos  int
}

func (tk lexToken) String() string {
	switch tk.kind {
	case tkEOF:
		return "end of input"
	case tkString:
		return fmt.Sprintf("%q", tk.text)
	}
	return "'" + tk.text + "'"
}

func lexFilter(s string) ([]lexToken, error) {
	var toks []lexToken
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		case '(':
			toks = append(toks, lexToken{tkLParen, "(", i})
			i++
		case ')':
			toks = append(toks, lexToken{tkRParen, ")", i})
			i++
		case ',':
			toks = append(toks, lexToken{tkComma, ",", i})
			i++
		case '"':
			start := i
			var b strings.Builder
			for i++; ; i++ {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string starting at position %d", start)
				}
				if s[i] == '"' {
					i++
					break
				}
				if s[i] == '\\' {
					if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
						return nil, fmt.Errorf("invalid escape at position %d: only \\\" and \\\\ are allowed", i)
					}
					i++
				}
				b.WriteByte(s[i])
			}
			toks = append(toks, lexToken{tkString, b.String(), start})
		default:
			start := i
			for i < len(s) && !strings.ContainsRune(" \t\r\n(),\"", rune(s[i])) {
				i++
			}
			toks = append(toks, lexToken{tkWord, s[start:i], start})
		}
	}
	return append(toks, lexToken{tkEOF, "", len(s)}), nil
}

type filterParser[T any] struct {
	c    *collection[T]
	toks []lexToken
	i    int
}

// parseFilter compiles a filter into a predicate; an empty expression
// gives nil, meaning "match all".
func (c *collection[T]) parseFilter(s string) (func(*T) bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser[T]{c: c, toks: toks}
	f, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if tk := p.peek(); tk.kind != tkEOF {
		if l := strings.ToLower(tk.text); tk.kind == tkWord && (l == "and" || l == "or") {
			return nil, fmt.Errorf("operators are lowercase; '%s' at position %d is not allowed", tk.text, tk.pos)
		}
		return nil, fmt.Errorf("unexpected %s at position %d", tk, tk.pos)
	}
	return f, nil
}

func (p *filterParser[T]) peek() lexToken { return p.toks[p.i] }

func (p *filterParser[T]) next() lexToken {
	tk := p.toks[p.i]
	if tk.kind != tkEOF {
		p.i++
	}
	return tk
}

func (p *filterParser[T]) isKeyword(kw string) bool {
	tk := p.peek()
	return tk.kind == tkWord && tk.text == kw
}

func (p *filterParser[T]) parseOr() (func(*T) bool, error) {
	l, err := p.parseAnd()
	for err == nil && p.isKeyword("or") {
		if p.c.andOnly {
			return nil, fmt.Errorf("'or' at position %d is not supported on this collection; join conditions with 'and'", p.peek().pos)
		}
		p.next()
		var r func(*T) bool
		if r, err = p.parseAnd(); err == nil {
			a := l
			l = func(x *T) bool { return a(x) || r(x) }
		}
	}
	return l, err
}

func (p *filterParser[T]) parseAnd() (func(*T) bool, error) {
	l, err := p.parseUnary()
	for err == nil && p.isKeyword("and") {
		p.next()
		var r func(*T) bool
		if r, err = p.parseUnary(); err == nil {
			a := l
			l = func(x *T) bool { return a(x) && r(x) }
		}
	}
	return l, err
}

func (p *filterParser[T]) parseUnary() (func(*T) bool, error) {
	if !p.isKeyword("not") {
		return p.parsePrimary()
	}
	if p.c.andOnly {
		return nil, fmt.Errorf("'not' at position %d is not supported on this collection; join conditions with 'and'", p.peek().pos)
	}
	p.next()
	f, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return func(x *T) bool { return !f(x) }, nil
}

func (p *filterParser[T]) parsePrimary() (func(*T) bool, error) {
	tk := p.next()
	switch {
	case tk.kind == tkLParen:
		f, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tkRParen {
			return nil, fmt.Errorf("expected ')' at position %d, found %s", c.pos, c)
		}
		return f, nil
	case tk.kind != tkWord:
		return nil, fmt.Errorf("expected a field name at position %d, found %s", tk.pos, tk)
	case tk.text == "pr":
		// pr is prefix ("pr field"); it parses, but no collection documents it.
		f := p.next()
		if f.kind != tkWord {
			return nil, fmt.Errorf("expected a field name after 'pr' at position %d, found %s", f.pos, f)
		}
		_, err := p.c.filterField(f.text, "pr")
		return nil, err
	}
	return p.parseComparison(tk.text)
}

func (p *filterParser[T]) parseComparison(name string) (func(*T) bool, error) {
	optk := p.next()
	if optk.kind != tkWord {
		return nil, fmt.Errorf("expected an operator after '%s' at position %d, found %s", name, optk.pos, optk)
	}
	op := optk.text
	if !slices.Contains(knownOperators, op) {
		if slices.Contains(knownOperators, strings.ToLower(op)) {
			return nil, fmt.Errorf("operators are lowercase; '%s' at position %d is not allowed", op, optk.pos)
		}
		return nil, fmt.Errorf("unknown operator '%s' at position %d", op, optk.pos)
	}
	var vals []lexToken
	switch op {
	case "isnull":
	case "pr":
		return nil, fmt.Errorf("'pr' is a prefix operator ('pr %s'), found it after a field at position %d", name, optk.pos)
	case "in", "ca":
		if tk := p.next(); tk.kind != tkLParen {
			return nil, fmt.Errorf("expected '(' after '%s' at position %d, found %s", op, tk.pos, tk)
		}
		for {
			v := p.next()
			if v.kind != tkString && v.kind != tkWord {
				return nil, fmt.Errorf("expected a value at position %d, found %s", v.pos, v)
			}
			vals = append(vals, v)
			sep := p.next()
			if sep.kind == tkRParen {
				break
			}
			if sep.kind != tkComma {
				return nil, fmt.Errorf("expected ',' or ')' at position %d, found %s", sep.pos, sep)
			}
		}
	default:
		v := p.next()
		if v.kind != tkString && v.kind != tkWord {
			return nil, fmt.Errorf("expected a value after '%s %s' at position %d, found %s", name, op, v.pos, v)
		}
		vals = append(vals, v)
	}
	f, err := p.c.filterField(name, op)
	if err != nil {
		return nil, err
	}
	operands := make([]value, len(vals))
	for i, v := range vals {
		if operands[i], err = operand(f.kind, name, op, v); err != nil {
			return nil, err
		}
	}
	return predicate(f, op, operands), nil
}

func (c *collection[T]) filterField(name, op string) (field[T], error) {
	f, ok := c.fields[name]
	if !ok || len(f.ops) == 0 {
		return f, fmt.Errorf("filtering on field '%s' is not supported; supported fields are %s", name, c.names(func(f field[T]) bool { return len(f.ops) > 0 }))
	}
	if !slices.Contains(f.ops, op) {
		return f, fmt.Errorf("operator '%s' is not supported for field '%s'; supported operators are %s", op, name, strings.Join(f.ops, ", "))
	}
	return f, nil
}

// operand converts one value once, at parse time, so evaluating 50k items
// costs no parsing.
func operand(k kind, name, op string, v lexToken) (value, error) {
	switch {
	case k == kString || k == kList:
		if v.kind != tkString {
			return value{}, fmt.Errorf("value for '%s' must be a double-quoted string, found %s at position %d", name, v, v.pos)
		}
		return str(v.text), nil
	case k == kBool:
		switch v.text {
		case "true":
			return boolValue(true), nil
		case "false":
			return boolValue(false), nil
		}
		return value{}, fmt.Errorf("value for '%s' must be true or false, found %s at position %d", name, v, v.pos)
	case op == "sw": // a prefix of the rendered date-time
		return str(v.text), nil
	}
	tm, err := time.Parse(time.RFC3339Nano, v.text)
	if err != nil {
		return value{}, fmt.Errorf("value for '%s' must be an ISO-8601 date-time such as 2026-01-02T03:04:05.678Z, found %s at position %d", name, v, v.pos)
	}
	return msValue(tm), nil
}

func predicate[T any](f field[T], op string, operands []value) func(*T) bool {
	get, k := f.get, f.kind
	if op == "isnull" {
		return func(x *T) bool { return get(x).null }
	}
	test := func(v value) bool {
		switch op {
		case "in":
			return slices.ContainsFunc(operands, func(o value) bool { return compareValues(k, v, o) == 0 })
		case "sw":
			if k == kTime {
				return strings.HasPrefix(time.UnixMilli(v.n).UTC().Format(msLayout), operands[0].s)
			}
			return strings.HasPrefix(v.s, operands[0].s)
		case "co":
			if k == kList {
				return slices.Contains(v.list, operands[0].s)
			}
			return strings.Contains(v.s, operands[0].s)
		case "ca":
			return !slices.ContainsFunc(operands, func(o value) bool { return !slices.Contains(v.list, o.s) })
		}
		c := compareValues(k, v, operands[0])
		switch op {
		case "eq":
			return c == 0
		case "ne":
			return c != 0
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0 // le
	}
	return func(x *T) bool {
		v := get(x)
		return !v.null && test(v)
	}
}
