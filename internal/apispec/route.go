package apispec

import (
	"sort"
	"strings"
)

// Families, in the order Operations lists them.
var families = []string{"v1", "v3", "v2024", "v2025", "v2026", "beta"}

// label is the operation's name in violations: name, and the document checked
// against when it is another family's.
func (o *op) label() string {
	if d := documents[o.doc]; d.family != o.family {
		return o.name() + " (checked against " + d.family + "'s document)"
	}
	return o.name()
}

// prefix is the path prefix of a family's operations: ISC serves v3 under
// /v3/…; v1's per-service documents write their version in their paths
// (/sources/v1), so theirs is empty.
func prefix(family string) string {
	if family == "v1" {
		return ""
	}
	return "/" + family
}

// familyOf splits a request path into its family and the path the family's
// document writes: /v3/sources is v3's /sources, /sources/v1 is v1's.
func familyOf(path string) (family, rest string) {
	for _, f := range families[1:] {
		p := prefix(f)
		if path == p || strings.HasPrefix(path, p+"/") {
			return f, strings.TrimPrefix(path, p)
		}
	}
	return "v1", path
}

// match finds the operation of the table a request is: its family's
// operation whose template matches the path, with the path's parameters.
// With no such template, o is nil; with a template but not this method,
// o is nil and methods lists those the table has for it.
func match(method, path string) (o *op, params map[string]string, methods []string, family string) {
	family, rest := familyOf(path)
	segs := strings.Split(rest, "/")
	for _, t := range table {
		if t.family != family {
			continue
		}
		p, ok := matchTemplate(t.template, segs)
		if !ok {
			continue
		}
		if t.method == method {
			return t, p, nil, family
		}
		methods = append(methods, t.method)
	}
	sort.Strings(methods)
	return nil, nil, methods, family
}

// matchTemplate matches path segments against a template's, {name} taking
// any one non-empty segment.
func matchTemplate(template string, segs []string) (map[string]string, bool) {
	tsegs := strings.Split(template, "/")
	if len(tsegs) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, ts := range tsegs {
		if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[ts[1:len(ts)-1]] = segs[i]
			continue
		}
		if ts != segs[i] {
			return nil, false
		}
	}
	return params, true
}
