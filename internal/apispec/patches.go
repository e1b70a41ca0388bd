package apispec

import (
	"fmt"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
)

// Patches: in-memory changes to SailPoint's documents, each for a part that
// is broken for a validator (the files under the spec directory are never
// changed). Besides these, the harness's documents differ from SailPoint's
// only in what they leave out (see slice.go and documents.go) and in the
// security schemes it gives the documents that name but lack them
// (securitySchemes in documents.go).

// nullableAllOf is the patch "nullable allOf member".
//
// Which $ref: Source.managerCorrelationMapping, in v3's and v2025's
// collections and in the per-service sources document
// (idn/apis/sources/schemas/source.yaml):
//
//	managerCorrelationMapping:
//	  allOf:
//	    - $ref: '#/components/schemas/ManagerCorrelationMapping'
//	    - nullable: true
//	      description: …
//
// Why: SailPoint means "a ManagerCorrelationMapping, or null" (ISC serves
// null for sources without manager correlation), but in OpenAPI 3.0
// nullable only widens the schema that carries it, and that schema has no
// type: null still fails the $ref'd member, which is an object and not
// nullable, so every source without a mapping would be a violation.
//
// What it is replaced with: the schema holding the allOf is made nullable
// itself; everything else stays, so a non-null value must still be a
// ManagerCorrelationMapping. The patch applies to every allOf of the table's
// operations with such a member (a member that says nullable: true and
// constrains nothing); TestPatches lists where it applies, so that a new
// occurrence is seen rather than silently patched.
func nullableAllOf(doc *openapi3.T) []string {
	var where []string
	walkSchemas(doc, func(path string, s *openapi3.Schema) {
		if s.Nullable {
			return
		}
		for _, m := range s.AllOf {
			if m.Value != nil && m.Ref == "" && onlyNullable(m.Value) {
				s.Nullable = true
				where = append(where, path)
				return
			}
		}
	})
	sort.Strings(where)
	return where
}

// onlyNullable tells a schema that says nullable: true and nothing that
// constrains a value (a description, an example at most).
func onlyNullable(s *openapi3.Schema) bool {
	return s.Nullable && s.Type == nil && len(s.Properties) == 0 && s.Items == nil &&
		len(s.AllOf) == 0 && len(s.OneOf) == 0 && len(s.AnyOf) == 0 && s.Not == nil &&
		len(s.Enum) == 0 && s.Format == "" && len(s.Required) == 0 && s.AdditionalProperties.Schema == nil
}

// applyPatches applies every patch to a loaded document and returns, by
// patch name, where each applied.
func applyPatches(doc *openapi3.T) map[string][]string {
	out := map[string][]string{}
	if where := nullableAllOf(doc); len(where) > 0 {
		out["nullable allOf member"] = where
	}
	return out
}

// walkSchemas calls f once for every schema reachable from the document's
// operations (parameters and answers), with a path naming it: the component
// it is or is in when it has one ("ManagerCorrelationMapping",
// "Source.managerCorrelationMapping"), else the operation and the answer
// ("GET /sources 200 []").
func walkSchemas(doc *openapi3.T, f func(path string, s *openapi3.Schema)) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(path string, ref *openapi3.SchemaRef)
	walk = func(path string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil {
			return
		}
		if ref.Ref != "" {
			path = refName(ref.Ref)
		}
		s := ref.Value
		if seen[s] {
			return
		}
		seen[s] = true
		f(path, s)
		for _, name := range sortedKeys(s.Properties) {
			walk(path+"."+name, s.Properties[name])
		}
		walk(path+"[]", s.Items)
		walk(path+"{}", s.AdditionalProperties.Schema)
		walk(path+"!", s.Not)
		for i, list := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
			for j, m := range list {
				walk(fmt.Sprintf("%s.%s[%d]", path, []string{"allOf", "oneOf", "anyOf"}[i], j), m)
			}
		}
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for _, m := range sortedKeys(item.Operations()) {
			op := item.Operations()[m]
			name := m + " " + p
			for _, prm := range append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...) {
				if prm.Value != nil {
					walk(name+" "+prm.Value.Name, prm.Value.Schema)
				}
			}
			for _, status := range sortedKeys(op.Responses.Map()) {
				r := op.Responses.Value(status)
				if r == nil || r.Value == nil {
					continue
				}
				for _, ct := range sortedKeys(r.Value.Content) {
					walk(name+" "+status, r.Value.Content[ct].Schema)
				}
				for _, h := range sortedKeys(r.Value.Headers) {
					if hv := r.Value.Headers[h].Value; hv != nil {
						walk(name+" "+status+" "+h, hv.Schema)
					}
				}
			}
		}
	}
}

// refName is the last segment of a $ref: the component's name, or for a
// file, the file's.
func refName(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '/' {
			return ref[i+1:]
		}
	}
	return ref
}
