// Package apispec checks the exporter's traffic with Identity Security Cloud
// against SailPoint's own OpenAPI documents: every request the client sends
// (path, method, query parameters, the filters and sorters languages, the
// experimental and Authorization headers) and every answer (status,
// headers, body schema). It is test support: only tests import it.
//
//	spec := apispec.Load(t)
//	client := &http.Client{Transport: spec.Transport(t, http.DefaultTransport)}
//	… exercise the exporter …
//	if unseen := spec.Unseen("v3"); len(unseen) > 0 {
//		t.Errorf("operations not exercised: %v", unseen)
//	}
//
// The documents are SailPoint's, verbatim, under ../shared/spec from the
// repository's root (SAILPOINT_SPEC_DIR overrides it); see SOURCE.txt there.
// The operations checked are the table's (table.go): those the exporter
// calls, in every API family; anything else is a violation.
package apispec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// EnvDir names the environment variable that overrides where SailPoint's
// documents are.
const EnvDir = "SAILPOINT_SPEC_DIR"

// Options adjust what the harness accepts.
type Options struct {
	// AllowUnknownEnums names the fields of answers whose enumerated values
	// are not checked against the document's enum: ISC adds values without
	// notice (a new source status, a new task type), and a simulated tenant
	// may serve one on purpose to test that the exporter copes. An entry is
	// a JSON pointer into the body, "*" standing for any one segment
	// ("/*/status": the status of every item of a list), or a bare field
	// name ("status": that field at any depth). Default: none, so a value
	// the document does not list is a violation. Enums inside oneOf or
	// anyOf are reported as the failed oneOf/anyOf, which this does not
	// excuse.
	AllowUnknownEnums []string
}

// Spec checks requests and answers against the documents. Load makes one;
// its methods are safe for concurrent use.
type Spec struct {
	set  *docSet
	opts Options

	mu   sync.Mutex
	seen map[string]int
}

// docSet is the documents of one spec directory, loaded once per test
// binary and shared by every Spec.
type docSet struct {
	dir string
	ops map[*op]*operation
	// patched is where each patch applied, by document key and patch name.
	patched map[string]map[string][]string
	took    time.Duration
	err     error
}

var (
	setsMu sync.Mutex
	sets   = map[string]*docSet{}
)

// Load returns a Spec with default Options; see LoadWith.
func Load(t testing.TB) *Spec {
	t.Helper()
	return LoadWith(t, Options{})
}

// LoadWith loads and validates every document of the table (once per test
// binary: later calls share them) and returns a Spec of its own Seen
// counts. If the spec directory is missing, it skips the test, or with
// CI=true in the environment fails it; if a document does not load or
// validate, it fails the test.
func LoadWith(t testing.TB, opts Options) *Spec {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("apispec: %v", err)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("apispec: SailPoint's OpenAPI documents are not at %s: copy them there (github.com/sailpoint-oss/api-specs, the files %s/SOURCE.txt lists) or set %s to where they are", dir, dir, EnvDir)
		}
		t.Skipf("apispec: skipped, SailPoint's OpenAPI documents are not at %s (set %s to where they are)", dir, EnvDir)
	}
	setsMu.Lock()
	set := sets[dir]
	if set == nil {
		set = load(dir)
		sets[dir] = set
	}
	setsMu.Unlock()
	if set.err != nil {
		t.Fatalf("apispec: SailPoint's documents under %s: %v", dir, set.err)
	}
	return &Spec{set: set, opts: opts, seen: map[string]int{}}
}

// Dir returns where the harness looks for SailPoint's documents: $EnvDir,
// or ../shared/spec from the repository's root (the directory of go.mod,
// looked for from the working directory up).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "spec"), nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no go.mod in %s or above it: cannot find the repository's root, so not ../shared/spec either; set %s", wd, EnvDir)
		}
		d = up
	}
}

// LoadTime is how long loading and validating the documents took, once for
// the test binary.
func (s *Spec) LoadTime() time.Duration { return s.set.took }

// load loads every document the table names, in parallel.
func load(dir string) *docSet {
	start := time.Now()
	set := &docSet{dir: dir, ops: map[*op]*operation{}, patched: map[string]map[string][]string{}}
	docs := map[string]*openapi3.T{}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, key := range sortedKeys(documents) {
		wg.Go(func() {
			doc, patched, err := loadDocument(dir, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			docs[key] = doc
			set.patched[key] = patched
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		set.err = errors.Join(errs...)
		return set
	}
	for _, o := range table {
		doc := docs[o.doc]
		item := doc.Paths.Value(o.template)
		if item == nil || item.GetOperation(o.method) == nil {
			errs = append(errs, fmt.Errorf("%s: %s has no %s %s", o.name(), documents[o.doc].file, o.method, o.template))
			continue
		}
		route := &routers.Route{Spec: doc, Path: o.template, PathItem: item, Method: o.method, Operation: item.GetOperation(o.method)}
		set.ops[o] = compile(o, route)
	}
	set.err = errors.Join(errs...)
	set.took = time.Since(start)
	return set
}
