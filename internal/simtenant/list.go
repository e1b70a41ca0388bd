package simtenant

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const maxLimit = 250

// listQuery is a validated list request.
type listQuery struct {
	limit, offset int
	count         bool
	requestedFor  string
	requestedBy   string
	regarding     string
	betaType      string // the beta API's extra "type" parameter
	filter        filterNode
	sorters       []sortKey
}

func queryValue(q url.Values, key string) (string, bool) {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseListQuery validates every parameter before any data is read; the
// first problem found is the 400's message.
func parseListQuery(q url.Values, beta bool) (listQuery, *reply) {
	lq := listQuery{limit: maxLimit}
	if v, ok := queryValue(q, "limit"); ok {
		n, err := strconv.ParseInt(v, 10, 32) // the spec says int32
		if err != nil || n < 0 || n > maxLimit {
			return lq, badRequest("Invalid value for query parameter 'limit': '" + v + "'. It must be an integer between 0 and 250.")
		}
		lq.limit = int(n)
	}
	if v, ok := queryValue(q, "offset"); ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return lq, badRequest("Invalid value for query parameter 'offset': '" + v + "'. It must be a non-negative 32-bit integer.")
		}
		lq.offset = int(n)
	}
	if v, ok := queryValue(q, "count"); ok {
		switch strings.ToLower(v) {
		case "true":
			lq.count = true
		case "false":
		default:
			return lq, badRequest("Invalid value for query parameter 'count': '" + v + "'. It must be true or false.")
		}
	}
	lq.requestedFor, _ = queryValue(q, "requested-for")
	lq.requestedBy, _ = queryValue(q, "requested-by")
	lq.regarding, _ = queryValue(q, "regarding-identity")
	if lq.regarding != "" && (lq.requestedFor != "" || lq.requestedBy != "") {
		return lq, badRequest("Query parameter 'regarding-identity' is mutually exclusive with 'requested-for' and 'requested-by'.")
	}
	if beta {
		lq.betaType, _ = queryValue(q, "type")
	}
	if v, ok := queryValue(q, "filters"); ok {
		f, err := parseFilter(v)
		if err != nil {
			return lq, badRequest(err.Error())
		}
		lq.filter = f
	}
	if v, ok := queryValue(q, "sorters"); ok {
		s, err := parseSorters(v)
		if err != nil {
			msg := err.Error()
			return lq, badRequest(strings.ToUpper(msg[:1]) + msg[1:])
		}
		lq.sorters = s
	}
	return lq, nil
}

// summaryIs matches either the summary's own id or the identity's id,
// since ISC documentation is loose about which one these parameters mean.
// "me" never matches: client-credentials tokens carry no identity.
func summaryIs(s *IdentitySummary, id string) bool {
	return s != nil && (s.IdentityID == id || s.ID == id)
}

func (lq *listQuery) match(e *entry) bool {
	if lq.betaType != "" && (e.nullType || e.typ != lq.betaType) {
		return false
	}
	if lq.filter != nil && !lq.filter.match(e) {
		return false
	}
	if lq.requestedFor == "" && lq.requestedBy == "" && lq.regarding == "" {
		return true
	}
	a := e.a
	if lq.requestedFor != "" && !summaryIs(a.TargetIdentitySummary, lq.requestedFor) {
		return false
	}
	if lq.requestedBy != "" && !summaryIs(a.RequesterIdentitySummary, lq.requestedBy) {
		return false
	}
	if lq.regarding != "" && !summaryIs(a.TargetIdentitySummary, lq.regarding) && !summaryIs(a.RequesterIdentitySummary, lq.regarding) {
		return false
	}
	return true
}

func (t *Tenant) list(r *http.Request, beta bool) reply {
	lq, bad := parseListQuery(r.URL.Query(), beta)
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
	page := make([]*Activity, 0, min(lq.limit, 256))
	total := 0
	t.mu.Lock()
	if len(lq.sorters) == 0 {
		// The index is already in the default order.
		for i := range t.ordered {
			e := &t.ordered[i]
			if !lq.match(e) {
				continue
			}
			if total >= lq.offset && len(page) < lq.limit {
				page = append(page, e.a)
			} else if len(page) == lq.limit && !lq.count {
				break
			}
			total++
		}
	} else {
		need := 0 // an offset past the end needs a count, not a heap
		if lq.offset < len(t.ordered) {
			need = min(len(t.ordered), lq.offset+lq.limit)
		}
		top := topN{keys: lq.sorters, n: need}
		for i := range t.ordered {
			if e := &t.ordered[i]; lq.match(e) {
				top.offer(e)
				total++
			}
		}
		sorted := top.sorted()
		for _, e := range sorted[min(lq.offset, len(sorted)):] {
			page = append(page, e.a)
		}
	}
	t.mu.Unlock()

	var body []byte
	var err error
	if beta {
		out := make([]wireBetaActivity, len(page))
		for i, a := range page {
			out[i] = toWireBeta(a)
		}
		body, err = json.Marshal(out)
	} else {
		out := make([]wireActivity, len(page))
		for i, a := range page {
			out[i] = toWire(a)
		}
		body, err = json.Marshal(out)
	}
	if err != nil {
		return errorDTO(http.StatusInternalServerError, "")
	}
	rep := reply{status: http.StatusOK, body: body}
	if lq.count {
		rep.header = http.Header{"X-Total-Count": {strconv.Itoa(total)}}
	}
	return rep
}

func (t *Tenant) getOne(id string, beta bool) reply {
	var a *Activity
	t.mu.Lock()
	if rec := t.byID[id]; rec != nil {
		a = rec.a
	}
	t.mu.Unlock()
	if a == nil {
		return errorDTO(http.StatusNotFound, "")
	}
	if beta {
		return jsonReply(http.StatusOK, toWireBeta(a))
	}
	return jsonReply(http.StatusOK, toWire(a))
}
