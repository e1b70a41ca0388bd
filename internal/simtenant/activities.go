package simtenant

import (
	"encoding/json"
	"net/http"
)

// activities is what the v3 spec documents for listing account activities:
// filters type (eq, in), created and modified (gt, lt, ge, le); sorters
// type, created, modified. The other API versions document more operators,
// but the exporter speaks v3, so anything beyond it is a 400 here.
var activities = collection[entry]{
	fields: map[string]field[entry]{
		"type": {kind: kString, ops: ops("eq in"), sort: true,
			get: func(e *entry) value { return value{null: e.nullType, s: e.typ} }},
		"created": {kind: kTime, ops: ops("gt lt ge le"), sort: true,
			get: func(e *entry) value { return value{null: e.nullCreated, n: e.created} }},
		"modified": {kind: kTime, ops: ops("gt lt ge le"), sort: true,
			get: func(e *entry) value { return value{null: e.nullModified, n: e.modified} }},
	},
	id: func(e *entry) string { return e.id },
}

func (t *Tenant) listActivities(r *http.Request, beta bool) reply {
	lq, bad := parseQuery(r.URL.Query(), &activities)
	if bad != nil {
		return *bad
	}

	t.beforeList(CollectionActivities)

	// Versions are immutable, so only the scan needs the lock; marshalling
	// runs unlocked while the simulator keeps going.
	form, wire := formV3, func(a *Activity) any { return toWire(a) }
	if beta {
		form, wire = formBeta, func(a *Activity) any { return toWireBeta(a) }
	}
	t.mu.Lock()
	t.reveal()
	entries, total := selectPage(t.ordered, &lq)
	page := make([]pageRecord[Activity], len(entries))
	for i, e := range entries {
		a := e.rec.shown
		page[i] = pageRecord[Activity]{v: a, id: a.ID, cache: &e.rec.rendered, json: e.rec.rendered.cached(a, form)}
	}
	ic := t.interceptor
	t.mu.Unlock()

	return pageOf(t, ic, CollectionActivities, page, wire, form, total, lq.count)
}

// renderActivity is a's JSON, or what the interceptor serves instead.
func renderActivity(ic Interceptor, a *Activity, beta bool) ([]byte, error) {
	if ic != nil {
		if raw, ok := ic.Replace(CollectionActivities, a.ID); ok {
			return []byte(raw), nil
		}
	}
	if beta {
		return json.Marshal(toWireBeta(a))
	}
	return json.Marshal(toWire(a))
}

func (t *Tenant) getActivity(id string, beta bool) reply {
	var a *Activity
	t.mu.Lock()
	t.reveal()
	if rec := t.byID[id]; rec != nil {
		a = rec.shown
	}
	ic := t.interceptor
	t.mu.Unlock()
	if a == nil {
		return errorDTO(http.StatusNotFound, "")
	}
	b, err := renderActivity(ic, a, beta)
	if err != nil {
		return errorDTO(http.StatusInternalServerError, "")
	}
	return reply{status: http.StatusOK, body: b}
}
