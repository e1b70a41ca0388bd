package simtenant

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file implements SailPoint's standard collection filter language
// (developer.sailpoint.com, "Standard Collection Parameters") for real, so
// the exporter's filters are checked by an independent parser rather than
// by string comparison with what we expect it to send.
//
// Grammar, with the documented precedence not > and > or:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | "pr" field | field "isnull"
//	        | field ("in" | "ca") "(" value { "," value } ")"
//	        | field op value
//	value   = quoted string | bare word (date-times may be unquoted)
//
// Null semantics: every comparison with a null field is false, ne
// included, and only isnull matches null (SQL-like). The logic is
// two-valued, though: "not type eq x" is true for a null type, because not
// simply negates the false comparison.

// filterFields lists, per field, the operators the account-activities
// endpoints document. type's list is the beta spec's (it adds gt to v3's);
// anything else is a 400, as on ISC.
var filterFields = map[string][]string{
	"type":     {"eq", "in", "ge", "gt", "le", "lt", "ne", "isnull", "sw"},
	"created":  {"gt", "lt", "ge", "le", "eq", "in", "ne", "isnull", "sw"},
	"modified": {"gt", "lt", "ge", "le", "eq", "in", "ne", "isnull", "sw"},
}

// knownOperators are all primitive operators of the language; they parse
// even where this endpoint rejects them, so the error says "unsupported"
// rather than "syntax error".
var knownOperators = []string{"eq", "ne", "gt", "ge", "lt", "le", "in", "sw", "co", "ca", "isnull", "pr"}

type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

func filterErrorf(format string, args ...any) error {
	return &filterError{"Invalid filter expression: " + fmt.Sprintf(format, args...)}
}

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
		c := s[i]
		switch c {
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
			i++
			for {
				if i >= len(s) {
					return nil, filterErrorf("unterminated string starting at position %d", start)
				}
				if s[i] == '"' {
					i++
					break
				}
				if s[i] == '\\' {
					if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
						return nil, filterErrorf("invalid escape at position %d: only \\\" and \\\\ are allowed", i)
					}
					i++
				}
				b.WriteByte(s[i])
				i++
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

// filterNode is a parsed, validated filter.
type filterNode interface {
	match(e *entry) bool
}

type andNode struct{ l, r filterNode }
type orNode struct{ l, r filterNode }
type notNode struct{ x filterNode }

func (n andNode) match(e *entry) bool { return n.l.match(e) && n.r.match(e) }
func (n orNode) match(e *entry) bool  { return n.l.match(e) || n.r.match(e) }
func (n notNode) match(e *entry) bool { return !n.x.match(e) }

// cmpNode compares one field. Values are converted once at parse time so
// evaluating 50k activities costs no parsing.
type cmpNode struct {
	field string
	op    string
	strs  []string // string operands (type, or sw on a date)
	times []int64  // date-time operands in Unix milliseconds
}

type filterParser struct {
	toks []lexToken
	i    int
}

// parseFilter returns nil for an empty expression, meaning "match all".
func parseFilter(s string) (filterNode, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if tk := p.peek(); tk.kind != tkEOF {
		if l := strings.ToLower(tk.text); tk.kind == tkWord && (l == "and" || l == "or") {
			return nil, filterErrorf("operators are lowercase; '%s' at position %d is not allowed", tk.text, tk.pos)
		}
		return nil, filterErrorf("unexpected %s at position %d", tk, tk.pos)
	}
	return n, nil
}

func (p *filterParser) peek() lexToken { return p.toks[p.i] }

func (p *filterParser) next() lexToken {
	tk := p.toks[p.i]
	if tk.kind != tkEOF {
		p.i++
	}
	return tk
}

func (p *filterParser) isKeyword(kw string) bool {
	tk := p.peek()
	return tk.kind == tkWord && tk.text == kw
}

func (p *filterParser) parseOr() (filterNode, error) {
	l, err := p.parseAnd()
	for err == nil && p.isKeyword("or") {
		p.next()
		var r filterNode
		if r, err = p.parseAnd(); err == nil {
			l = orNode{l, r}
		}
	}
	return l, err
}

func (p *filterParser) parseAnd() (filterNode, error) {
	l, err := p.parseUnary()
	for err == nil && p.isKeyword("and") {
		p.next()
		var r filterNode
		if r, err = p.parseUnary(); err == nil {
			l = andNode{l, r}
		}
	}
	return l, err
}

func (p *filterParser) parseUnary() (filterNode, error) {
	if p.isKeyword("not") {
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() (filterNode, error) {
	tk := p.next()
	switch {
	case tk.kind == tkLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tkRParen {
			return nil, filterErrorf("expected ')' at position %d, found %s", c.pos, c)
		}
		return n, nil
	case tk.kind != tkWord:
		return nil, filterErrorf("expected a field name at position %d, found %s", tk.pos, tk)
	case tk.text == "pr":
		// pr is prefix ("pr field"); it parses, but no field here supports it.
		f := p.next()
		if f.kind != tkWord {
			return nil, filterErrorf("expected a field name after 'pr' at position %d, found %s", f.pos, f)
		}
		return nil, checkFieldOp(f.text, "pr")
	}
	return p.parseComparison(tk.text)
}

func (p *filterParser) parseComparison(field string) (filterNode, error) {
	optk := p.next()
	if optk.kind != tkWord {
		return nil, filterErrorf("expected an operator after '%s' at position %d, found %s", field, optk.pos, optk)
	}
	op := optk.text
	if !slices.Contains(knownOperators, op) {
		if slices.Contains(knownOperators, strings.ToLower(op)) {
			return nil, filterErrorf("operators are lowercase; '%s' at position %d is not allowed", op, optk.pos)
		}
		return nil, filterErrorf("unknown operator '%s' at position %d", op, optk.pos)
	}
	var vals []lexToken
	switch op {
	case "isnull":
	case "pr":
		return nil, filterErrorf("'pr' is a prefix operator ('pr %s'), found it after a field at position %d", field, optk.pos)
	case "in", "ca":
		if tk := p.next(); tk.kind != tkLParen {
			return nil, filterErrorf("expected '(' after '%s' at position %d, found %s", op, tk.pos, tk)
		}
		for {
			v := p.next()
			if v.kind != tkString && v.kind != tkWord {
				return nil, filterErrorf("expected a value at position %d, found %s", v.pos, v)
			}
			vals = append(vals, v)
			sep := p.next()
			if sep.kind == tkRParen {
				break
			}
			if sep.kind != tkComma {
				return nil, filterErrorf("expected ',' or ')' at position %d, found %s", sep.pos, sep)
			}
		}
	default:
		v := p.next()
		if v.kind != tkString && v.kind != tkWord {
			return nil, filterErrorf("expected a value after '%s %s' at position %d, found %s", field, op, v.pos, v)
		}
		vals = append(vals, v)
	}
	if err := checkFieldOp(field, op); err != nil {
		return nil, err
	}
	return buildComparison(field, op, vals)
}

func checkFieldOp(field, op string) error {
	ops, ok := filterFields[field]
	if !ok {
		return filterErrorf("filtering on field '%s' is not supported; supported fields are type, created and modified", field)
	}
	if !slices.Contains(ops, op) {
		return filterErrorf("operator '%s' is not supported for field '%s'; supported operators are %s", op, field, strings.Join(ops, ", "))
	}
	return nil
}

func buildComparison(field, op string, vals []lexToken) (filterNode, error) {
	n := &cmpNode{field: field, op: op}
	for _, v := range vals {
		switch {
		case field == "type":
			if v.kind != tkString {
				return nil, filterErrorf("value for 'type' must be a double-quoted string, found %s at position %d", v, v.pos)
			}
			n.strs = append(n.strs, v.text)
		case op == "sw":
			n.strs = append(n.strs, v.text)
		default:
			tm, err := time.Parse(time.RFC3339Nano, v.text)
			if err != nil {
				return nil, filterErrorf("value for '%s' must be an ISO-8601 date-time such as 2026-01-02T03:04:05.678Z, found %s at position %d", field, v, v.pos)
			}
			n.times = append(n.times, tm.UnixMilli())
		}
	}
	return n, nil
}

func (n *cmpNode) match(e *entry) bool {
	switch n.field {
	case "type":
		if e.nullType {
			return n.op == "isnull"
		}
		return n.matchString(e.typ)
	case "created":
		if e.nullCreated {
			return n.op == "isnull"
		}
		return n.matchTime(e.created)
	default: // modified
		if e.nullModified {
			return n.op == "isnull"
		}
		return n.matchTime(e.modified)
	}
}

// matchString compares byte-wise, i.e. lexicographically by code point and
// case-sensitively.
func (n *cmpNode) matchString(v string) bool {
	switch n.op {
	case "in":
		return slices.Contains(n.strs, v)
	case "sw":
		return strings.HasPrefix(v, n.strs[0])
	case "isnull":
		return false
	}
	return cmpMatches(n.op, strings.Compare(v, n.strs[0]))
}

// matchTime compares temporally at millisecond precision; sw, which the
// spec lists for dates too, is a prefix of the rendered ISO-8601 value.
func (n *cmpNode) matchTime(ms int64) bool {
	switch n.op {
	case "in":
		return slices.Contains(n.times, ms)
	case "sw":
		return strings.HasPrefix(time.UnixMilli(ms).UTC().Format(msLayout), n.strs[0])
	case "isnull":
		return false
	}
	return cmpMatches(n.op, cmpInt(ms, n.times[0]))
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

func cmpMatches(op string, c int) bool {
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
	case "le":
		return c <= 0
	}
	return false
}
