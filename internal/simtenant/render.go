package simtenant

import (
	"encoding/json"
	"net/http"
)

// rendered holds the JSON of one immutable version of a record, in each
// wire form it was asked for, so that a version is marshalled once however
// often it is listed: a restarted exporter reads its lookback again, ranges
// read some pages twice, and marshalling was most of what a list cost.
// The tenant's lock guards it.
type rendered[T any] struct {
	of   *T
	json [2][]byte // by wire form: formV3, formBeta
}

// Wire forms of a record; a task has one.
const (
	formV3 = iota
	formBeta
)

// pageRecord is one record of a page: its version, its cache and the JSON
// to send, which is empty until rendered.
type pageRecord[T any] struct {
	v     *T
	id    string
	cache *rendered[T]
	json  []byte
	fresh bool // rendered by this request: to be kept in cache
}

// cached returns the JSON of v in form, if this cache holds it.
func (r *rendered[T]) cached(v *T, form int) []byte {
	if r.of != v {
		return nil
	}
	return r.json[form]
}

// keep stores the JSON of v in form, dropping what an older version left.
func (r *rendered[T]) keep(v *T, form int, b []byte) {
	if r.of != v {
		r.of, r.json = v, [2][]byte{}
	}
	r.json[form] = b
}

// renderPage joins the records into a JSON array, marshalling what the
// cache did not hold with wire, or serving what the interceptor replaces a
// record with (never cached: a fault may end). It runs without the lock;
// pageOf keeps the new JSON under it.
func renderPage[T any](ic Interceptor, coll string, page []pageRecord[T], wire func(*T) any) ([]byte, error) {
	size := 2
	for i := range page {
		p := &page[i]
		if ic != nil {
			if raw, ok := ic.Replace(coll, p.id); ok {
				p.json, p.fresh = []byte(raw), false
				size += len(p.json) + 1
				continue
			}
		}
		if p.json == nil {
			b, err := json.Marshal(wire(p.v))
			if err != nil {
				return nil, err
			}
			p.json, p.fresh = b, true
		}
		size += len(p.json) + 1
	}
	body := make([]byte, 0, size)
	body = append(body, '[')
	for i := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, page[i].json...)
	}
	return append(body, ']'), nil
}

// pageOf is the reply of a list: the page rendered in form without the
// lock (renderPage), what it marshalled kept in the records' caches under
// it, and the total when count asks for it.
func pageOf[T any](t *Tenant, ic Interceptor, coll string, page []pageRecord[T], wire func(*T) any, form, total int, count bool) reply {
	body, err := renderPage(ic, coll, page, wire)
	if err != nil {
		return errorDTO(http.StatusInternalServerError, "")
	}
	t.mu.Lock()
	for _, p := range page {
		if p.fresh {
			p.cache.keep(p.v, form, p.json)
		}
	}
	t.mu.Unlock()
	return pageReply(body, total, count)
}
