package apispec

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// SailPoint's dereferenced collections are 1.5 and 3.3 MB of YAML; parsing
// one whole takes the better part of a second, and the exporter calls five
// of its hundreds of operations. So the harness cuts each document down to
// the operations of the table, and the components they name, before it
// hands it to kin-openapi: by lines, which block-style YAML (what SailPoint
// writes) allows, as a mapping's keys are exactly the lines at its
// indentation, and everything between two keys (deeper lines, blank lines,
// block scalars, flow values continued on further lines) belongs to the
// first.

// block is one key of a block mapping and the lines of its value:
// lines[start] is the key's line, lines[start+1:end] the rest.
type block struct {
	key        string
	start, end int
}

// blocks returns the keys at exactly indent spaces within lines[from:to],
// each with the lines up to the next key. Lines before the first key (none in
// a well-formed mapping) are ignored.
func blocks(lines []string, from, to, indent int) []block {
	var out []block
	for i := from; i < to; i++ {
		key, ok := mappingKey(lines[i], indent)
		if !ok {
			continue
		}
		if n := len(out); n > 0 {
			out[n-1].end = i
		}
		out = append(out, block{key: key, start: i, end: to})
	}
	return out
}

// mappingKey returns the key of line if the line is a mapping key at exactly
// indent spaces: plain, single- or double-quoted, followed by a colon and a
// space or the line's end.
func mappingKey(line string, indent int) (string, bool) {
	if len(line) <= indent || strings.TrimLeft(line[:indent], " ") != "" {
		return "", false
	}
	rest := line[indent:]
	switch rest[0] {
	case ' ', '\t', '#', '-':
		return "", false
	case '\'', '"':
		q := rest[0]
		end := strings.IndexByte(rest[1:], q)
		if end < 0 {
			return "", false
		}
		key := rest[1 : end+1]
		after := rest[end+2:]
		if !strings.HasPrefix(after, ":") || (len(after) > 1 && after[1] != ' ') {
			return "", false
		}
		return key, true
	}
	colon := strings.Index(rest, ":")
	for colon >= 0 && colon+1 < len(rest) && rest[colon+1] != ' ' {
		next := strings.Index(rest[colon+1:], ":")
		if next < 0 {
			colon = -1
			break
		}
		colon += 1 + next
	}
	if colon <= 0 {
		return "", false
	}
	return strings.TrimRight(rest[:colon], " "), true
}

// find returns the block of key, if there is one.
func find(bs []block, key string) (block, bool) {
	for _, b := range bs {
		if b.key == key {
			return b, true
		}
	}
	return block{}, false
}

// httpMethods are the keys of a path item that are operations.
var httpMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// pathItemLines returns the lines of the path item lines[b.start+1:b.end]
// (keys at indent) without the operations whose methods are not in keep;
// the path item's other keys (parameters, summary, servers) stay.
func pathItemLines(lines []string, from, to, indent int, keep map[string]bool) []string {
	var out []string
	for _, b := range blocks(lines, from, to, indent) {
		if httpMethods[b.key] && !keep[strings.ToUpper(b.key)] {
			continue
		}
		out = append(out, lines[b.start:b.end]...)
	}
	return out
}

// componentRef matches a $ref to a component of the same document.
var componentRef = regexp.MustCompile(`#/components/([A-Za-z]+)/([^'"\s]+)`)

// pruneCollection returns a document of the same openapi and info as the
// collection text, with the paths of keep (template → methods) and every
// component these name, directly or through other components, and the
// security schemes. It fails if a template or a named component is not in
// the collection.
func pruneCollection(text string, keep map[string]map[string]bool) (string, error) {
	lines := strings.Split(text, "\n")
	top := blocks(lines, 0, len(lines), 0)
	var out []string
	for _, key := range []string{"openapi", "info"} {
		b, ok := find(top, key)
		if !ok {
			return "", fmt.Errorf("no %q at the top of the document", key)
		}
		out = append(out, lines[b.start:b.end]...)
	}
	paths, ok := find(top, "paths")
	if !ok {
		return "", fmt.Errorf("no paths")
	}
	items := blocks(lines, paths.start+1, paths.end, 2)
	out = append(out, "paths:")
	var kept []string
	for _, tmpl := range sortedKeys(keep) {
		b, ok := find(items, tmpl)
		if !ok {
			return "", fmt.Errorf("no path %s", tmpl)
		}
		item := append([]string{lines[b.start]}, pathItemLines(lines, b.start+1, b.end, 4, keep[tmpl])...)
		out = append(out, item...)
		kept = append(kept, item...)
	}

	comps, ok := find(top, "components")
	if !ok {
		return "", fmt.Errorf("no components")
	}
	sections := map[string][]block{}
	for _, s := range blocks(lines, comps.start+1, comps.end, 2) {
		sections[s.key] = blocks(lines, s.start+1, s.end, 4)
	}
	// The closure of the components named, section by section.
	want := map[string]map[string]bool{}
	queue := [][]string{kept}
	if s, ok := sections["securitySchemes"]; ok {
		want["securitySchemes"] = map[string]bool{}
		for _, b := range s {
			want["securitySchemes"][b.key] = true
		}
	}
	for len(queue) > 0 {
		chunk := queue[0]
		queue = queue[1:]
		for _, line := range chunk {
			for _, m := range componentRef.FindAllStringSubmatch(line, -1) {
				section, name := m[1], unescapePointer(m[2])
				if want[section][name] {
					continue
				}
				b, ok := find(sections[section], name)
				if !ok {
					return "", fmt.Errorf("$ref %s: no such component", m[0])
				}
				if want[section] == nil {
					want[section] = map[string]bool{}
				}
				want[section][name] = true
				queue = append(queue, lines[b.start:b.end])
			}
		}
	}
	out = append(out, "components:")
	for _, section := range sortedKeys(want) {
		out = append(out, "  "+section+":")
		for _, b := range sections[section] {
			if want[section][b.key] {
				out = append(out, lines[b.start:b.end]...)
			}
		}
	}
	return strings.Join(out, "\n") + "\n", nil
}

// unescapePointer decodes one JSON-pointer token of a URI fragment.
func unescapePointer(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}
