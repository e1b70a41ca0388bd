package apispec

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the comparisons, or "error: …" (a part of the message)
	}{
		{`modified ge 2026-12-01T00:00:00.000Z`, `modified ge 2026-12-01T00:00:00.000Z`},
		{`type eq "CLOUD_ACCOUNT_AGGREGATION" and completionStatus isnull`, `type eq "CLOUD_ACCOUNT_AGGREGATION"; completionStatus isnull`},
		{`id in ("a","b" , "c")`, `id in "a" "b" "c"`},
		{`not groups ca ("Venezia","Firenze")`, `groups ca "Venezia" "Firenze"`},
		{`pr accountRequestInfo or lastUsed isnull`, `accountRequestInfo pr; lastUsed isnull`},
		{`not (a eq 1 or b eq true) and (c lt -2.5e3)`, `a eq 1; b eq true; c lt -2.5e3`},
		{`name eq "say \"hi\" \\ bye"`, `name eq "say \"hi\" \\ bye"`},
		{`owner.id eq "x"`, `owner.id eq "x"`},
		{``, `error: empty`},
		{`type EQ "x"`, `error: not lowercase`},
		{`type eq x`, `error: not a value`},
		{`type eq "x`, `error: closing quote`},
		{`type eq "a\n"`, `error: escapes only`},
		{`id in "a"`, `error: list in parentheses`},
		{`id in ("a" "b")`, `error: goes on with , or ends with )`},
		{`(type eq "a"`, `error: closes the (`},
		{`type eq "a" type eq "b"`, `error: after a complete expression`},
		{`type eq "a" and`, `error: where a field or ( starts`},
		{`type like "a"`, `error: not an operator`},
		{`modified pr`, `error: not an operator`},
		{`1abc eq "a"`, `error: not a field name`},
	} {
		comps, err := parseFilter(tc.in)
		var got string
		if err != nil {
			got = "error: " + err.Error()
		} else {
			var parts []string
			for _, c := range comps {
				p := c.field + " " + c.op
				for _, v := range c.values {
					p += " " + v.String()
				}
				parts = append(parts, p)
			}
			got = strings.Join(parts, "; ")
		}
		if strings.HasPrefix(tc.want, "error: ") {
			if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, strings.TrimPrefix(tc.want, "error: ")) {
				t.Errorf("parseFilter(%q) = %s, want an error with %q", tc.in, got, strings.TrimPrefix(tc.want, "error: "))
			}
			continue
		}
		if got != tc.want {
			t.Errorf("parseFilter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFilterAndSortLists(t *testing.T) {
	// As YAML's >- folds SailPoint's descriptions.
	desc := "Filter results using the standard syntax described in [V3 API Standard Collection Parameters](https://developer.sailpoint.com/idn/api/standard-collection-parameters#filtering-results)\n" +
		"Filtering is supported for the following fields and operators:\n" +
		"**id**: *eq, in*\n**owner.id**: *eq, in, ge*\n**Possible Values:** CLOUD_ACCOUNT_AGGREGATION, IDENTITY_REFRESH"
	fields, ok := filterFields(desc)
	if got := fmt.Sprint(fields); !ok || got != "map[id:[eq in] owner.id:[eq in ge]]" {
		t.Errorf("filterFields = %s, %v", got, ok)
	}
	if _, ok := filterFields("Filter results using the standard syntax"); ok {
		t.Error("filterFields found fields in a description without a list")
	}
	sorters, ok := sortFields("Sort results … Sorting is supported for the following fields: **type, created,\nmodified**")
	if got := fmt.Sprint(sorters); !ok || got != "[type created modified]" {
		t.Errorf("sortFields = %s, %v", got, ok)
	}
}

func TestMappingKey(t *testing.T) {
	for _, tc := range []struct {
		line   string
		indent int
		key    string
	}{
		{"  /account-activities:", 2, "/account-activities"},
		{"    '400':", 4, "400"},
		{`    "x y": 1`, 4, "x y"},
		{"    sp:scopes:all: access to all scopes", 4, "sp:scopes:all"},
		{"    description: a: b", 4, "description"},
		{"      nested: 1", 4, ""},
		{"  - name: x", 2, ""},
		{"  # comment: x", 2, ""},
		{"  https://x", 2, ""},
		{"", 0, ""},
	} {
		key, ok := mappingKey(tc.line, tc.indent)
		if key != tc.key || ok != (tc.key != "") {
			t.Errorf("mappingKey(%q, %d) = %q, %v; want %q", tc.line, tc.indent, key, ok, tc.key)
		}
	}
}

func TestPruneCollection(t *testing.T) {
	doc := `openapi: 3.0.1
info:
  title: T
  version: "1"
paths:
  /a:
    parameters:
      - $ref: '#/components/parameters/p'
    get:
      responses:
        '200':
          description: |
            ok: fine

            #/components/schemas/NotARef is text here, but taken as one
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/A'
    post:
      requestBody:
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Unused'
  /b:
    get:
      responses: {}
components:
  securitySchemes:
    s:
      type: http
  schemas:
    A:
      properties:
        b:
          $ref: "#/components/schemas/B~1C"
    B/C:
      type: string
    NotARef:
      type: string
    Unused:
      type: string
  parameters:
    p:
      name: p
      in: query
x-webhooks:
  w:
    $ref: ../missing.yaml
`
	got, err := pruneCollection(doc, map[string]map[string]bool{"/a": {"GET": true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  /a:", "    get:", "    parameters:", "    A:", "    B/C:", "    NotARef:", "    p:", "  securitySchemes:"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("pruned document lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"/b:", "post:", "Unused", "x-webhooks"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("pruned document has %q:\n%s", unwanted, got)
		}
	}
	if _, err := pruneCollection(doc, map[string]map[string]bool{"/c": {"GET": true}}); err == nil || !strings.Contains(err.Error(), "no path /c") {
		t.Errorf("a missing path: %v", err)
	}
	broken := strings.Replace(doc, "B~1C", "D", 1)
	if _, err := pruneCollection(broken, map[string]map[string]bool{"/a": {"GET": true}}); err == nil || !strings.Contains(err.Error(), "#/components/schemas/D: no such component") {
		t.Errorf("a $ref to nothing: %v", err)
	}
}
