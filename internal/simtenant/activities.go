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

// shownActivity is what a page holds of one activity, read under the lock.
type shownActivity struct {
	a   *Activity
	raw string
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

	// Versions are immutable, so only the scan needs the lock; marshalling
	// runs unlocked while the simulator keeps going.
	t.mu.Lock()
	t.reveal()
	entries, total := selectPage(t.ordered, &lq)
	page := make([]shownActivity, len(entries))
	for i, e := range entries {
		page[i] = shownActivity{e.rec.shown, e.rec.raw}
	}
	t.mu.Unlock()

	body := []byte{'['}
	for i, s := range page {
		if i > 0 {
			body = append(body, ',')
		}
		b, err := renderActivity(s, beta)
		if err != nil {
			return errorDTO(http.StatusInternalServerError, "")
		}
		body = append(body, b...)
	}
	return pageReply(append(body, ']'), total, lq.count)
}

func renderActivity(s shownActivity, beta bool) ([]byte, error) {
	switch {
	case s.raw != "":
		return []byte(s.raw), nil
	case beta:
		return json.Marshal(toWireBeta(s.a))
	}
	return json.Marshal(toWire(s.a))
}

func (t *Tenant) getActivity(id string, beta bool) reply {
	var s shownActivity
	t.mu.Lock()
	t.reveal()
	if rec := t.byID[id]; rec != nil {
		s = shownActivity{rec.shown, rec.raw}
	}
	t.mu.Unlock()
	if s.a == nil {
		return errorDTO(http.StatusNotFound, "")
	}
	b, err := renderActivity(s, beta)
	if err != nil {
		return errorDTO(http.StatusInternalServerError, "")
	}
	return reply{status: http.StatusOK, body: b}
}
