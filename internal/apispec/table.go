package apispec

import (
	"slices"
	"sort"
)

// The table of the operations the exporter calls, family by family, and the
// SailPoint document each is checked against.
//
// Where the spec directory holds no document of a family for an operation,
// the operation is checked against the nearest document that has it, v2025's
// (it has every one of them), its path mapped from /<family>/x to
// /v2025/x, and the operation's name in violations says so: "v2026 GET
// /task-status (checked against v2025's document)". These are v2024's,
// v2026's and beta's sources, managed clusters and task status. v2024's,
// v2026's and beta's account activities have their own path files, which the
// harness assembles into a document of the family (documents.go). v3 has no
// task status, and the exporter calls none in v2024: /v3/task-status and
// /v2024/task-status are not operations of the table.

// op is one operation of the table.
type op struct {
	family   string
	method   string
	template string // as the document writes it: /account-activities/{id}, /sources/v1
	doc      string // key of the document in documents
	// experimental forces X-SailPoint-Experimental: true where the document
	// checked against does not say so: v2026's task status is experimental
	// in v2026, and is checked against v2025's document, where it is not.
	experimental bool
}

// name is the operation's key in Seen and Operations: "v3 GET /sources".
func (o *op) name() string { return o.family + " " + o.method + " " + o.template }

var table = func() []*op {
	var ops []*op
	add := func(family, doc, template string) *op {
		o := &op{family: family, method: "GET", template: template, doc: doc}
		ops = append(ops, o)
		return o
	}
	add("v1", "v1-account-activities", "/account-activities/v1")
	add("v1", "v1-account-activities", "/account-activities/v1/{id}")
	add("v1", "v1-sources", "/sources/v1")
	add("v1", "v1-managed-clusters", "/managed-clusters/v1")
	add("v1", "v1-task-management", "/task-status/v1")
	for _, f := range []string{"v3", "v2024", "v2025", "v2026", "beta"} {
		activities := f
		if f == "v3" || f == "v2025" {
			activities = f + "-collection"
		}
		add(f, activities, "/account-activities")
		add(f, activities, "/account-activities/{id}")
		inventory := "v2025-collection"
		if f == "v3" {
			inventory = "v3-collection"
		}
		add(f, inventory, "/sources")
		add(f, inventory, "/managed-clusters")
		switch f {
		case "v2025", "beta":
			add(f, "v2025-collection", "/task-status")
		case "v2026":
			add(f, "v2025-collection", "/task-status").experimental = true
		}
	}
	return ops
}()

// Operations returns the names of the operations of the table ("v3 GET
// /sources"), of the families given or, with none, of all: what a coverage
// test compares with Seen.
func Operations(families ...string) []string {
	var out []string
	for _, o := range table {
		if len(families) == 0 || slices.Contains(families, o.family) {
			out = append(out, o.name())
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
