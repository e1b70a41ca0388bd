package apispec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// Violation is one way a request or an answer departs from SailPoint's
// documents.
type Violation struct {
	// Operation is the operation's name ("v3 GET /account-activities"), with
	// the document checked against when it is another family's ("v2026 GET
	// /task-status (checked against v2025's document)"); for a request of no
	// operation of the table, its family, method and path.
	Operation string
	// Field is what is wrong: "path", "method", "query parameter limit",
	// "filters field type", "sorters", "header X-SailPoint-Experimental",
	// "status", "body /0/id".
	Field string
	// Value is the value found, as sent or served ("(absent)" if missing).
	Value string
	// Problem says what is wrong with it.
	Problem string
}

func (v Violation) Error() string {
	return fmt.Sprintf("%s: %s = %s: %s", v.Operation, v.Field, v.Value, v.Problem)
}

// Violations is every violation of one request or answer: the error
// CheckRequest and CheckResponse return.
type Violations []Violation

func (vs Violations) Error() string {
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.Error()
	}
	return strings.Join(lines, "\n")
}

// orNil returns vs as an error, nil if there are none.
func (vs Violations) orNil() error {
	if len(vs) == 0 {
		return nil
	}
	return vs
}

const absent = "(absent)"

// isToken tells the OAuth token requests, which no document of the table
// describes and the harness lets through unchecked.
func isToken(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL.Path == "/oauth/token"
}

// resolve finds the operation of the table a request is, or the violation
// that it is none.
func (s *Spec) resolve(req *http.Request) (*operation, map[string]string, *Violation) {
	o, params, methods, family := match(req.Method, req.URL.Path)
	if o == nil {
		_, rest := familyOf(req.URL.Path)
		v := &Violation{Operation: family + " " + req.Method + " " + rest, Field: "path", Value: req.URL.Path,
			Problem: "no operation of apispec's table has this path: either SailPoint does not document it for the family, or the exporter calls something new (add it to the table in internal/apispec/table.go)"}
		if len(methods) > 0 {
			v.Field, v.Value = "method", req.Method
			v.Problem = "the table has only " + strings.Join(methods, ", ") + " for this path"
		}
		return nil, nil, v
	}
	return s.set.ops[o], params, nil
}

// covers tells whether a request is of an operation of the table.
func (s *Spec) covers(req *http.Request) bool {
	o, _, _, _ := match(req.Method, req.URL.Path)
	return o != nil
}

// CheckRequest checks a request the exporter sends to ISC and returns every
// violation (as Violations), or nil. It counts the request's operation in
// Seen. A token request (POST /oauth/token) is not checked.
func (s *Spec) CheckRequest(req *http.Request) error {
	if isToken(req) {
		return nil
	}
	op, params, bad := s.resolve(req)
	if bad != nil {
		return Violations{*bad}
	}
	s.mu.Lock()
	s.seen[op.name()]++
	s.mu.Unlock()

	var vs Violations
	add := func(field, value, problem string) {
		vs = append(vs, Violation{Operation: op.label(), Field: field, Value: value, Problem: problem})
	}

	// Authorization: a bearer token, which the violation does not show.
	switch auth := req.Header.Get("Authorization"); {
	case auth == "":
		add("header Authorization", absent, "ISC wants a bearer token")
	case !hasBearer(auth):
		scheme, _, _ := strings.Cut(auth, " ")
		add("header Authorization", scheme+" …", "not Bearer and a token")
	}

	// X-SailPoint-Experimental: true exactly where the operation is
	// experimental.
	exp, hasExp := req.Header[http.CanonicalHeaderKey(experimentalHeader)]
	switch {
	case op.experimental && !hasExp:
		add("header "+experimentalHeader, absent, "the operation is experimental: ISC answers it only with X-SailPoint-Experimental: true")
	case op.experimental && (len(exp) != 1 || !strings.EqualFold(exp[0], "true")):
		add("header "+experimentalHeader, strings.Join(exp, ", "), "must be true")
	case !op.experimental && hasExp:
		add("header "+experimentalHeader, strings.Join(exp, ", "), "the operation is not experimental: the header does not belong on it")
	}

	query, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		add("query", req.URL.RawQuery, "not a well-formed query: "+err.Error())
	}
	for _, name := range sortedKeys(query) {
		values := query[name]
		p := op.query[name]
		switch {
		case p == nil:
			add("query parameter "+name, strings.Join(values, ", "), "the operation declares no such parameter (it declares "+strings.Join(sortedKeys(op.query), ", ")+")")
		case len(values) > 1:
			add("query parameter "+name, strings.Join(values, ", "), "given more than once")
		}
	}

	// Declared parameters against their schemas (limit ≤ 250, offset ≥ 0,
	// count a boolean…), by kin-openapi.
	if err := validateParams(req, op, params); err != nil {
		vs = append(vs, paramViolations(op, req, query, err)...)
	}

	if f := query.Get("filters"); op.query["filters"] != nil && query.Has("filters") {
		vs = append(vs, op.checkFilters(f)...)
	}
	if srt := query.Get("sorters"); op.query["sorters"] != nil && query.Has("sorters") {
		vs = append(vs, op.checkSorters(srt)...)
	}
	return vs.orNil()
}

func hasBearer(auth string) bool {
	scheme, token, ok := strings.Cut(auth, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != ""
}

// validateParams runs kin-openapi's request validation, for the parameters
// only: the harness checks Authorization itself, and the table's operations
// take no body.
func validateParams(req *http.Request, op *operation, params map[string]string) error {
	r := req.Clone(context.Background())
	r.Body = http.NoBody
	r.ContentLength = 0
	input := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      op.route,
		Options: &openapi3filter.Options{
			MultiError:          true,
			ExcludeRequestBody:  true,
			SkipSettingDefaults: true,
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		},
	}
	return openapi3filter.ValidateRequest(context.Background(), input)
}

// paramViolations turns kin-openapi's request errors into violations.
func paramViolations(op *operation, req *http.Request, query url.Values, err error) Violations {
	var vs Violations
	for _, e := range flatten(err) {
		var re *openapi3filter.RequestError
		if !errors.As(e, &re) || re.Parameter == nil {
			vs = append(vs, Violation{Operation: op.label(), Field: "request", Value: req.URL.RequestURI(), Problem: e.Error()})
			continue
		}
		p := re.Parameter
		if p.In == openapi3.ParameterInHeader && strings.EqualFold(p.Name, experimentalHeader) {
			continue // CheckRequest's own check says it better
		}
		value := absent
		switch p.In {
		case openapi3.ParameterInQuery:
			if query.Has(p.Name) {
				value = strings.Join(query[p.Name], ", ")
			}
		case openapi3.ParameterInHeader:
			if vals := req.Header.Values(p.Name); len(vals) > 0 {
				value = strings.Join(vals, ", ")
			}
		case openapi3.ParameterInPath:
			value = req.URL.Path
		}
		problem := re.Reason
		if re.Err != nil {
			problem = problemOf(re.Err)
		}
		vs = append(vs, Violation{Operation: op.label(), Field: p.In + " parameter " + p.Name, Value: value, Problem: problem})
	}
	return vs
}

// checkFilters parses a filters value and checks every field and operator
// against the lists of the operation's description, and every value
// against the field's type.
func (op *operation) checkFilters(f string) Violations {
	var vs Violations
	add := func(field, value, problem string) {
		vs = append(vs, Violation{Operation: op.label(), Field: field, Value: value, Problem: problem})
	}
	comps, err := parseFilter(f)
	if err != nil {
		add("query parameter filters", strconv.Quote(f), "not ISC's filter language: "+err.Error())
		return vs
	}
	if !op.filtersListed {
		add("query parameter filters", strconv.Quote(f), "the operation's description lists no fields to filter on, so nothing can be")
		return vs
	}
	for _, c := range comps {
		ops, ok := op.filters[c.field]
		if !ok {
			add("filters field", c.field, "the operation filters only on "+strings.Join(sortedKeys(op.filters), ", "))
			continue
		}
		if !slices.Contains(ops, c.op) {
			add("filters operator of "+c.field, c.op, "the operation allows on "+c.field+" only "+strings.Join(ops, ", "))
		}
		for _, v := range c.values {
			if problem := op.checkValue(c.field, v); problem != "" {
				add("filters value of "+c.field, v.String(), problem)
			}
		}
	}
	return vs
}

// checkValue checks a filter value against the type of its field in the
// records' schema, where the document gives one.
func (op *operation) checkValue(field string, v token) string {
	s := op.fieldSchema(field)
	if s != nil && s.Type.Is(openapi3.TypeArray) && s.Items != nil {
		s = s.Items.Value // ca and co on a list field take its items' values
	}
	if s == nil || s.Type == nil {
		return ""
	}
	bare := v.kind == tWord
	switch {
	case s.Type.Is(openapi3.TypeString) && (s.Format == "date-time" || s.Format == "date"):
		if !bare || !isDateTime(v.text) {
			return field + " is a date-time: ISC's filters take a bare RFC 3339 date-time (created gt 2018-12-18T23:05:55Z)"
		}
	case s.Type.Is(openapi3.TypeString):
		if bare {
			return field + " is a string: its values are in double quotes"
		}
	case s.Type.Is(openapi3.TypeBoolean):
		if !bare || (v.text != "true" && v.text != "false") {
			return field + " is a boolean: true or false, bare"
		}
	case s.Type.Is(openapi3.TypeInteger) || s.Type.Is(openapi3.TypeNumber):
		if !bare || !number.MatchString(v.text) {
			return field + " is a number: bare"
		}
	}
	return ""
}

// fieldSchema returns the schema of a (dotted) field of the records, or nil
// if the document does not say.
func (c *operation) fieldSchema(field string) *openapi3.Schema {
	s := c.item
	for name := range strings.SplitSeq(field, ".") {
		if s = property(s, name); s == nil {
			return nil
		}
	}
	return s
}

// property finds a property of an object schema, through allOf.
func property(s *openapi3.Schema, name string) *openapi3.Schema {
	if s == nil {
		return nil
	}
	if p := s.Properties[name]; p != nil {
		return p.Value
	}
	for _, sub := range s.AllOf {
		if p := property(sub.Value, name); p != nil {
			return p
		}
	}
	return nil
}

// sorterSyntax is one item of a sorters value: a field, "-" before it for
// descending.
var sorterSyntax = regexp.MustCompile(`^-?([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)$`)

// checkSorters checks a sorters value: comma-separated fields, each
// optionally after "-", each one the description lists.
func (op *operation) checkSorters(srt string) Violations {
	var vs Violations
	add := func(value, problem string) {
		vs = append(vs, Violation{Operation: op.label(), Field: "sorters", Value: value, Problem: problem})
	}
	if !op.sortersListed {
		add(strconv.Quote(srt), "the operation's description lists no fields to sort on, so nothing can be")
		return vs
	}
	for f := range strings.SplitSeq(srt, ",") {
		m := sorterSyntax.FindStringSubmatch(f)
		if m == nil {
			add(strconv.Quote(f), "not a field name, with an optional - before it (sorters=type,-modified)")
			continue
		}
		if !slices.Contains(op.sorters, m[1]) {
			add(f, "the operation sorts only on "+strings.Join(op.sorters, ", "))
		}
	}
	return vs
}

// CheckResponse checks an answer ISC (or the simulated tenant) gave to req
// and returns every violation (as Violations), or nil: a status the
// operation documents, the documented headers of the right form, and a body
// of the documented media type that validates against the documented
// schema. The answer to a token request is not checked.
func (s *Spec) CheckResponse(req *http.Request, status int, header http.Header, body []byte) error {
	if isToken(req) {
		return nil
	}
	op, params, bad := s.resolve(req)
	if bad != nil {
		return Violations{*bad}
	}
	var vs Violations
	add := func(field, value, problem string) {
		vs = append(vs, Violation{Operation: op.label(), Field: field, Value: value, Problem: problem})
	}
	responses := op.route.Operation.Responses
	ref := responses.Status(status)
	if ref == nil {
		ref = responses.Default()
	}
	if ref == nil || ref.Value == nil {
		add("status", strconv.Itoa(status), "not a status the operation documents ("+strings.Join(sortedKeys(responses.Map()), ", ")+")")
		return vs
	}
	resp := ref.Value

	// Headers the answer documents, and those SailPoint documents in prose:
	// X-Total-Count (the count parameter's "populate the X-Total-Count
	// response header") and Retry-After (the 429's "The Retry-After header
	// in the response includes how long to wait").
	for _, name := range sortedKeys(resp.Headers) {
		if h := resp.Headers[name]; h != nil && h.Value != nil {
			if problem, value := checkHeader(header, name, h.Value); problem != "" {
				add("header "+name, value, problem)
			}
		}
	}
	if _, documented := resp.Headers["X-Total-Count"]; !documented {
		if v := header.Values("X-Total-Count"); len(v) > 0 {
			if n, err := strconv.ParseInt(v[0], 10, 64); len(v) != 1 || err != nil || n < 0 {
				add("header X-Total-Count", strings.Join(v, ", "), "the total count is one non-negative integer")
			}
		} else if status == http.StatusOK && op.query["count"] != nil && req.URL.Query().Get("count") == "true" {
			add("header X-Total-Count", absent, "the request asked count=true, which populates X-Total-Count")
		}
	}
	if status == http.StatusTooManyRequests {
		if v := header.Values("Retry-After"); len(v) > 0 && !retryAfter(v) {
			add("header Retry-After", strings.Join(v, ", "), "Retry-After is one value: seconds (a non-negative integer) or an HTTP date")
		}
	}

	if len(resp.Content) == 0 {
		return vs.orNil()
	}
	ct := header.Get("Content-Type")
	if resp.Content.Get(ct) == nil {
		value := ct
		if value == "" {
			value = absent
		}
		add("header Content-Type", value, "the operation documents "+strings.Join(sortedKeys(resp.Content), ", ")+" for "+strconv.Itoa(status))
		return vs.orNil()
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op.route},
		Status:                 status,
		// Only Content-Type: the headers are checked above, all of them
		// (kin-openapi stops at the first).
		Header:  http.Header{"Content-Type": {ct}},
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		vs = append(vs, s.bodyViolations(op, err)...)
	}
	return vs.orNil()
}

// checkHeader checks one documented response header: present if required,
// and of its schema's type.
func checkHeader(header http.Header, name string, h *openapi3.Header) (problem, value string) {
	values := header.Values(name)
	if len(values) == 0 {
		if h.Required {
			return "the operation documents it as required", absent
		}
		return "", ""
	}
	value = strings.Join(values, ", ")
	if h.Schema == nil || h.Schema.Value == nil {
		return "", ""
	}
	sch := h.Schema.Value
	var v any = values[0]
	switch {
	case sch.Type.Is(openapi3.TypeInteger):
		n, err := strconv.ParseInt(values[0], 10, 64)
		if err != nil {
			return "not an integer", value
		}
		v = float64(n)
	case sch.Type.Is(openapi3.TypeNumber):
		n, err := strconv.ParseFloat(values[0], 64)
		if err != nil {
			return "not a number", value
		}
		v = n
	case sch.Type.Is(openapi3.TypeBoolean):
		b, err := strconv.ParseBool(values[0])
		if err != nil {
			return "not a boolean", value
		}
		v = b
	}
	if len(values) > 1 {
		return "given more than once", value
	}
	if err := sch.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return problemOf(err), value
	}
	return "", ""
}

func retryAfter(v []string) bool {
	if len(v) != 1 {
		return false
	}
	if n, err := strconv.ParseInt(v[0], 10, 64); err == nil {
		return n >= 0
	}
	_, err := http.ParseTime(v[0])
	return err == nil
}

// bodyViolations turns kin-openapi's response error into violations, one a
// schema error, less those AllowUnknownEnums excuses.
func (s *Spec) bodyViolations(op *operation, err error) Violations {
	var vs Violations
	var re *openapi3filter.ResponseError
	if !errors.As(err, &re) {
		return Violations{{Operation: op.label(), Field: "body", Value: "", Problem: err.Error()}}
	}
	if re.Err == nil {
		return Violations{{Operation: op.label(), Field: "body", Value: "", Problem: re.Reason}}
	}
	for _, e := range flatten(re.Err) {
		var se *openapi3.SchemaError
		if !errors.As(e, &se) {
			vs = append(vs, Violation{Operation: op.label(), Field: "body", Value: "", Problem: re.Reason + ": " + e.Error()})
			continue
		}
		pointer := "/" + strings.Join(escapeTokens(se.JSONPointer()), "/")
		if se.SchemaField == "enum" && s.allowsUnknownEnum(se.JSONPointer()) {
			continue
		}
		value := showValue(se.Value)
		if se.SchemaField == "required" {
			value = absent
		}
		vs = append(vs, Violation{Operation: op.label(), Field: "body " + pointer, Value: value, Problem: schemaProblem(se)})
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Field < vs[j].Field })
	return vs
}

// allowsUnknownEnum tells whether Options.AllowUnknownEnums excuses an enum
// violation at the JSON pointer tokens path.
func (s *Spec) allowsUnknownEnum(path []string) bool {
	for _, pattern := range s.opts.AllowUnknownEnums {
		if !strings.HasPrefix(pattern, "/") {
			if len(path) > 0 && path[len(path)-1] == pattern {
				return true
			}
			continue
		}
		toks := strings.Split(pattern[1:], "/")
		if len(toks) != len(path) {
			continue
		}
		ok := true
		for i, t := range toks {
			if t != "*" && unescapeToken(t) != path[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func escapeTokens(path []string) []string {
	out := make([]string, len(path))
	for i, t := range path {
		out[i] = strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
	}
	return out
}

func unescapeToken(t string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
}

// schemaProblem says what a schema error is, without kin-openapi's dump of
// the schema and value.
func schemaProblem(se *openapi3.SchemaError) string {
	switch {
	case se.Reason != "":
		return se.Reason
	case se.Origin != nil:
		return se.Origin.Error()
	}
	return "does not match the schema's " + se.SchemaField
}

// problemOf says what the (schema) errors of err are, in one line.
func problemOf(err error) string {
	var problems []string
	for _, e := range flatten(err) {
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			problems = append(problems, schemaProblem(se))
		} else {
			problems = append(problems, e.Error())
		}
	}
	return strings.Join(problems, "; ")
}

// showValue renders a value for a violation, long ones cut.
func showValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const most = 120
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}

// flatten lists the errors of (nested) MultiErrors.
func flatten(err error) []error {
	//nolint:errorlint // a MultiError itself is flattened; one wrapped in another error is that error's detail
	if me, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
