package apispec

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// experimentalHeader is the header ISC wants on experimental operations.
const experimentalHeader = "X-SailPoint-Experimental"

// operation is an operation of the table with what its document says.
type operation struct {
	*op
	route *routers.Route
	// query are the query parameters the operation declares.
	query map[string]*openapi3.Parameter
	// filters are the fields and their operators the filters parameter's
	// description lists; filtersListed is false if it lists none.
	filters       map[string][]string
	filtersListed bool
	// sorters are the fields the sorters parameter's description lists.
	sorters       []string
	sortersListed bool
	// experimental: the operation wants X-SailPoint-Experimental: true.
	experimental bool
	// item is the schema of the answer's records (the 200 answer's, or its
	// items' for a list), whose properties type the filters' values.
	item *openapi3.Schema
}

func compile(o *op, route *routers.Route) *operation {
	c := &operation{op: o, route: route, query: map[string]*openapi3.Parameter{}, experimental: o.experimental}
	if v, ok := route.Operation.Extensions["x-sailpoint-experimental"].(bool); ok && v {
		c.experimental = true
	}
	params := append(openapi3.Parameters{}, route.PathItem.Parameters...)
	params = append(params, route.Operation.Parameters...)
	for _, ref := range params {
		p := ref.Value
		switch {
		case p.In == openapi3.ParameterInHeader && strings.EqualFold(p.Name, experimentalHeader):
			// How SailPoint's collections mark an experimental operation: a
			// required header parameter.
			c.experimental = true
		case p.In == openapi3.ParameterInQuery:
			c.query[p.Name] = p
			switch p.Name {
			case "filters":
				c.filters, c.filtersListed = filterFields(p.Description)
			case "sorters":
				c.sorters, c.sortersListed = sortFields(p.Description)
			}
		}
	}
	if r := route.Operation.Responses.Status(200); r != nil && r.Value != nil {
		if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			c.item = mt.Schema.Value
			if c.item.Items != nil && c.item.Items.Value != nil {
				c.item = c.item.Items.Value
			}
		}
	}
	return c
}
