package simtenant

import (
	"net/http"
	"strings"
)

// This file holds what a tenant says about its paths rather than its data:
// which ones it publishes (per-service paths are being rolled out tenant by
// tenant), which ones SailPoint has deprecated, and which ones are
// experimental.

// Deprecation is what ISC sends with every answer of a deprecated path, in
// the headers of the same names: X-Deprecated (e.g. "true"), Deprecation
// (RFC 9745, e.g. "@1767225600" or an HTTP date) and Sunset (RFC 8594, an
// HTTP date). An empty field is not sent.
type Deprecation struct {
	XDeprecated string
	Deprecation string
	Sunset      string
}

func (d Deprecation) header() http.Header {
	h := http.Header{}
	for k, v := range map[string]string{"X-Deprecated": d.XDeprecated, "Deprecation": d.Deprecation, "Sunset": d.Sunset} {
		if v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// Deprecate makes every answer under the path prefix (such as "/v3",
// "/v2024/sources" or "/account-activities/v1"), successes and errors
// alike, carry the headers of h; Deprecate(prefix, Deprecation{}) stops
// it. Where prefixes overlap the longest one applies.
func (t *Tenant) Deprecate(prefix string, h Deprecation) {
	prefix = cleanPrefix(prefix)
	t.mu.Lock()
	defer t.mu.Unlock()
	if h == (Deprecation{}) {
		delete(t.deprecated, prefix)
		return
	}
	t.deprecated[prefix] = h
}

// DisablePath makes the tenant answer 404 (ISC's ErrorResponseDto) for
// every path under prefix when off is true, the way a tenant answers where a
// path is not published yet, and publishes it again when off is false. It
// overrides Config.PerServiceOff for that prefix, so a test can turn on one
// per-service path (DisablePath("/task-status/v1", false)) on a tenant that
// has them off, or off one at a time on a tenant that has them on. Where
// prefixes overlap the longest one applies.
func (t *Tenant) DisablePath(prefix string, off bool) {
	prefix = cleanPrefix(prefix)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.disabled[prefix] = off
}

func cleanPrefix(p string) string {
	p = strings.TrimRight(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// underPrefix reports whether path is prefix or lies below it; "" is the root.
func underPrefix(path, prefix string) bool {
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// longestPrefix finds the longest key of m that path lies under.
func longestPrefix[V any](m map[string]V, path string) (V, bool) {
	var best V
	bestLen, found := -1, false
	for p, v := range m {
		if len(p) > bestLen && underPrefix(path, p) {
			best, bestLen, found = v, len(p), true
		}
	}
	return best, found
}

// deprecationHeaders are the headers every answer for path carries.
func (t *Tenant) deprecationHeaders(path string) http.Header {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.deprecated) == 0 {
		return nil
	}
	d, ok := longestPrefix(t.deprecated, path)
	if !ok {
		return nil
	}
	return d.header()
}

// pathDisabled reports whether the tenant does not publish path, of the
// given family.
func (t *Tenant) pathDisabled(path, family string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if off, ok := longestPrefix(t.disabled, path); ok {
		return off
	}
	return family == FamilyV1 && t.cfg.PerServiceOff
}
