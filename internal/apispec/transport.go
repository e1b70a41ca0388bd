package apispec

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"testing"
)

// Transport returns a RoundTripper for tests that checks every request
// before next sends it and every answer after, reporting each violation
// with t.Errorf (operation, field, value, problem) and counting the
// operations in Seen. It reads the answer's body whole and gives the caller
// the same bytes (and the same read error, if the body failed part way,
// which it then does not check). Token requests pass unchecked.
func (s *Spec) Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{spec: s, t: t, next: next}
}

type transport struct {
	spec *Spec
	t    testing.TB
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if isToken(req) {
		return tr.next.RoundTrip(req)
	}
	covered := tr.spec.covers(req)
	tr.report("request", req, tr.spec.CheckRequest(req))
	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, complete := readAll(resp)
	// An answer to a request of no operation is reported with the request;
	// one whose body failed part way is the caller's to see, not checkable.
	if covered && complete {
		tr.report("answer", req, tr.spec.CheckResponse(req, resp.StatusCode, resp.Header, body))
	}
	return resp, nil
}

// readAll reads an answer's body and puts back one that gives the caller
// the same bytes, and the same error at their end if reading failed.
func readAll(resp *http.Response) (body []byte, complete bool) {
	body, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var rest io.Reader = bytes.NewReader(body)
	if readErr != nil {
		rest = io.MultiReader(rest, errReader{readErr})
	}
	resp.Body = io.NopCloser(rest)
	return body, readErr == nil
}

func (tr *transport) report(what string, req *http.Request, err error) {
	if err == nil {
		return
	}
	var vs Violations
	if !errors.As(err, &vs) {
		tr.t.Errorf("apispec: %s of %s %s: %v", what, req.Method, req.URL.Path, err)
		return
	}
	uri := req.URL.Path
	if q, err := url.QueryUnescape(req.URL.RawQuery); err == nil && q != "" {
		uri += "?" + q
	}
	for _, v := range vs {
		tr.t.Errorf("apispec: %s of %s %s: %v", what, req.Method, uri, v)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Seen returns how many requests of each operation the Spec has checked,
// by operation name ("v3 GET /sources", as Operations lists them).
func (s *Spec) Seen() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.seen)
}

// Unseen returns the operations of the table, of the families given or of
// all, that the Spec has not checked a request of: for a coverage test,
// empty when every one was exercised.
func (s *Spec) Unseen(families ...string) []string {
	seen := s.Seen()
	var out []string
	for _, name := range Operations(families...) {
		if seen[name] == 0 {
			out = append(out, name)
		}
	}
	return out
}
