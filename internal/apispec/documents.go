package apispec

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// document is one of SailPoint's documents the table checks against.
type document struct {
	family string // whose document it is: "v1", "v3", "v2025", …
	kind   int    // collection, perService or assembled
	// file is the document, relative to the spec directory: the collection,
	// the per-service openapi.yaml, or for assembled documents the directory
	// of the family's loose files.
	file string
	// paths are, for assembled documents, the path file of each template,
	// relative to file.
	paths map[string]string
}

const (
	// collection: one of the dereferenced single-file collections
	// (dereferenced/deref-sailpoint-api.*.yaml), every $ref internal.
	collection = iota
	// perService: a per-service document (idn/apis/<service>/openapi.yaml),
	// its paths $refs to ./paths/*.yaml, which $ref ./schemas/ and
	// ../shared/.
	perService
	// assembled: no root document of the family is in the spec directory,
	// only its path files; the harness writes the root, in memory, the way
	// SailPoint's idn/sailpoint-api.<family>.yaml names them.
	assembled
)

var documents = map[string]*document{
	"v1-account-activities": {family: "v1", kind: perService, file: "idn/apis/account-activities/openapi.yaml"},
	"v1-sources":            {family: "v1", kind: perService, file: "idn/apis/sources/openapi.yaml"},
	"v1-managed-clusters":   {family: "v1", kind: perService, file: "idn/apis/managed-clusters/openapi.yaml"},
	"v1-task-management":    {family: "v1", kind: perService, file: "idn/apis/task-management/openapi.yaml"},
	"v3-collection":         {family: "v3", kind: collection, file: "dereferenced/deref-sailpoint-api.v3.yaml"},
	"v2025-collection":      {family: "v2025", kind: collection, file: "dereferenced/deref-sailpoint-api.v2025.yaml"},
	// v2024 has two generations of account-activity path files side by
	// side: account-activities.yaml/account-activity.yaml (fewer filter
	// operators; account-activity.yaml names ../schemas/
	// CancelableAccountActivity.yaml, which v2024 does not have) and
	// account-activity-list.yaml/account-activity-get-one.yaml, the names
	// v3 and v2026 use and what v3's dereferenced collection holds. The
	// harness takes the latter.
	"v2024": {family: "v2024", kind: assembled, file: "idn/v2024", paths: map[string]string{
		"/account-activities":      "paths/account-activity-list.yaml",
		"/account-activities/{id}": "paths/account-activity-get-one.yaml",
	}},
	"v2026": {family: "v2026", kind: assembled, file: "idn/v2026", paths: map[string]string{
		"/account-activities":      "paths/account-activity-list.yaml",
		"/account-activities/{id}": "paths/account-activity-get-one.yaml",
	}},
	// beta has only these two (they $ref ../../v3/ for parameters, responses
	// and most schemas).
	"beta": {family: "beta", kind: assembled, file: "idn/beta", paths: map[string]string{
		"/account-activities":      "paths/account-activities.yaml",
		"/account-activities/{id}": "paths/account-activity.yaml",
	}},
}

// Patch: security schemes. The per-service documents and the path files
// name the schemes userAuth and applicationAuth in `security`, but only the
// root collections define them (components.securitySchemes), so
// kin-openapi's validation fails ("security requirement refers to undefined
// security scheme"). The harness gives the documents it writes these two
// schemes as the collections define them (OAuth2, client credentials;
// descriptions and the authorization-code flow left out). Nothing checks a
// request against them: the harness checks the Authorization header itself.
const securitySchemes = `components:
  securitySchemes:
    userAuth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://example-tenant.api.identitynow.com/oauth/token
          scopes:
            sp:scopes:default: default scope
            sp:scopes:all: access to all scopes
    applicationAuth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://example-tenant.api.identitynow.com/oauth/token
          scopes:
            sp:scopes:default: default scope
            sp:scopes:all: access to all scopes
`

// keep returns, for the document key, the templates and methods of the table
// checked against it.
func keep(key string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, o := range table {
		if o.doc != key {
			continue
		}
		if out[o.template] == nil {
			out[o.template] = map[string]bool{}
		}
		out[o.template][o.method] = true
	}
	return out
}

// tableMethods are the methods of the table's operations: the operations a
// path file keeps.
var tableMethods = func() map[string]bool {
	m := map[string]bool{}
	for _, o := range table {
		m[o.method] = true
	}
	return m
}()

// loadDocument reads, cuts down, loads, patches and validates one
// document; patched is where each patch applied.
func loadDocument(dir, key string) (doc *openapi3.T, patched map[string][]string, err error) {
	d := documents[key]
	var root, location string
	switch d.kind {
	case collection:
		location = filepath.Join(dir, d.file)
		var b []byte
		if b, err = os.ReadFile(location); err != nil {
			return nil, nil, err
		}
		// x-webhooks, which the cut leaves out, is where v2025's $refs
		// that resolve to nothing are (two ../schemas/trigger/example-input/
		// files that the collection does not include): nothing the harness
		// uses names them, so they need no patch.
		if root, err = pruneCollection(string(b), keep(key)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d.file, err)
		}
	case perService:
		location = filepath.Join(dir, d.file)
		var b []byte
		if b, err = os.ReadFile(location); err != nil {
			return nil, nil, err
		}
		if root, err = prunePerService(string(b), keep(key)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d.file, err)
		}
	case assembled:
		// The root sits, in memory, where SailPoint's does: next to the
		// family's directory, whose path files then resolve their own
		// $refs (../schemas/…, ../../v3/…) from where they are.
		location = filepath.Join(dir, "idn", "sailpoint-api."+d.family+".yaml")
		var b strings.Builder
		fmt.Fprintf(&b, "openapi: 3.0.1\ninfo:\n  title: %s account activities (assembled by apispec from %s/paths)\n  version: %s\npaths:\n", d.family, d.file, d.family)
		for _, tmpl := range sortedKeys(d.paths) {
			fmt.Fprintf(&b, "  %s:\n    $ref: './%s/%s'\n", tmpl, strings.TrimPrefix(d.file, "idn/"), d.paths[tmpl])
		}
		b.WriteString("security:\n  - userAuth: [sp:scopes:all]\n")
		b.WriteString(securitySchemes)
		root = b.String()
	}

	loader := openapi3.NewLoader()
	loader.ReadFromURIFunc = readSpecFile(dir)
	doc, err = loader.LoadFromDataWithPath([]byte(root), &url.URL{Path: filepath.ToSlash(location)})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.file, err)
	}
	patched = applyPatches(doc)
	// Examples are not validated: many of SailPoint's do not match their
	// own schemas (an invalid example in components.schemas.AccessRequest of
	// v3, managed clusters' list example not an array…), and the harness
	// checks traffic against the schemas, not the examples against them.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, nil, fmt.Errorf("%s: invalid: %w", d.file, err)
	}
	return doc, patched, nil
}

// prunePerService returns a per-service document with only the paths of
// keep, no servers (requests are matched by path, whatever the host) and
// the security schemes patched in.
func prunePerService(text string, keep map[string]map[string]bool) (string, error) {
	lines := strings.Split(text, "\n")
	top := blocks(lines, 0, len(lines), 0)
	var out []string
	for _, key := range []string{"openapi", "info", "security"} {
		b, ok := find(top, key)
		if !ok {
			return "", fmt.Errorf("no %q at the top of the document", key)
		}
		out = append(out, lines[b.start:b.end]...)
	}
	if _, ok := find(top, "components"); ok {
		return "", errors.New("the document now has components: the security-schemes patch must merge with them")
	}
	paths, ok := find(top, "paths")
	if !ok {
		return "", errors.New("no paths")
	}
	items := blocks(lines, paths.start+1, paths.end, 2)
	out = append(out, "paths:")
	for _, tmpl := range sortedKeys(keep) {
		b, ok := find(items, tmpl)
		if !ok {
			return "", fmt.Errorf("no path %s", tmpl)
		}
		out = append(out, lines[b.start:b.end]...)
	}
	return strings.Join(out, "\n") + "\n" + securitySchemes, nil
}

// readSpecFile returns the loader's reader of $ref'd files: files of the
// spec directory only, and of a path file (a file in a paths/ directory)
// only the operations of the table's methods, the others (POST, PATCH,
// DELETE…) cut with the schemas they alone name.
func readSpecFile(dir string) openapi3.ReadFromURIFunc {
	return func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if u.Scheme != "" && u.Scheme != "file" || u.Host != "" {
			return nil, fmt.Errorf("$ref to %s: only files of the spec directory are read", u)
		}
		p := filepath.Clean(filepath.FromSlash(u.Path))
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("$ref to %s: outside the spec directory %s", p, dir)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if filepath.Base(filepath.Dir(p)) == "paths" {
			lines := strings.Split(string(b), "\n")
			b = []byte(strings.Join(pathItemLines(lines, 0, len(lines), 0, tableMethods), "\n") + "\n")
		}
		return b, nil
	}
}
