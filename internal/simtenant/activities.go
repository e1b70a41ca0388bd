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

	t.mu.Lock()
	t.listSeq++
	seq, hook := t.listSeq, t.onList
	t.mu.Unlock()
	if hook != nil {
		hook(seq)
	}

	// Snapshots are immutable, so only the scan needs the lock; marshalling
	// runs unlocked while the simulator keeps going.
	t.mu.Lock()
	entries, total := selectPage(t.ordered, &lq)
	page := make([]*Activity, len(entries))
	for i, e := range entries {
		page[i] = e.rec.a
	}
	t.mu.Unlock()

	body := []byte{'['}
	for i, a := range page {
		if i > 0 {
			body = append(body, ',')
		}
		b, err := renderActivity(a, beta)
		if err != nil {
			return errorDTO(http.StatusInternalServerError, "")
		}
		body = append(body, b...)
	}
	return pageReply(append(body, ']'), total, lq.count)
}

func renderActivity(a *Activity, beta bool) ([]byte, error) {
	if beta {
		return json.Marshal(toWireBeta(a))
	}
	return json.Marshal(toWire(a))
}

func (t *Tenant) getActivity(id string, beta bool) reply {
	var a *Activity
	t.mu.Lock()
	if rec := t.byID[id]; rec != nil {
		a = rec.a
	}
	t.mu.Unlock()
	if a == nil {
		return errorDTO(http.StatusNotFound, "")
	}
	b, err := renderActivity(a, beta)
	if err != nil {
		return errorDTO(http.StatusInternalServerError, "")
	}
	return reply{status: http.StatusOK, body: b}
}
