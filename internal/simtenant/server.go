package simtenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// API families, as Request.Family names them: the per-service paths
// (/sources/v1) and the yearly collections (/v3/sources).
const (
	FamilyV1    = "v1"
	FamilyV3    = "v3"
	FamilyV2024 = "v2024"
	FamilyV2025 = "v2025"
	FamilyV2026 = "v2026"
	FamilyBeta  = "beta"
)

var allFamilies = []string{FamilyV1, FamilyV3, FamilyV2024, FamilyV2025, FamilyV2026, FamilyBeta}

// api is one collection the tenant serves and every family that publishes it.
type api struct {
	name              string // the path segment: account-activities
	list, one         string // Request.Endpoint of the list and of the get by id
	denyList, denyOne string // the Deny family of each
	queue             string // the fault queue
	families          []string
}

var apis = []api{
	{"account-activities", "list", "get", "list", "get", QueueActivities, allFamilies},
	{"sources", "sources", "source", "sources", "sources", QueueSources, allFamilies},
	{"managed-clusters", "managed-clusters", "managed-cluster", "managed-clusters", "managed-clusters", QueueClusters, allFamilies},
	{"task-status", "task-status", "task-status-one", "task-status", "task-status", QueueTasks,
		[]string{FamilyV1, FamilyV2025, FamilyV2026, FamilyBeta}},
}

// experimentalPaths are the collection paths SailPoint marks experimental:
// without X-SailPoint-Experimental: true a real tenant answers them 400.
var experimentalPaths = []string{"/v2026/task-status"}

// apiPath is where a family publishes a collection.
func apiPath(family, name string) string {
	if family == FamilyV1 {
		return "/" + name + "/v1"
	}
	return "/" + family + "/" + name
}

// route is what a request path asks for.
type route struct {
	endpoint string // Request.Endpoint
	family   string // Request.Family
	deny     string // the Deny key
	queue    string // the fault queue
	prefix   string // the collection's path in this family
	id       string // of a get by id
	beta     bool   // beta account activities answer CancelableAccountActivity
}

// routes maps each collection path to its list route.
var routes = func() map[string]route {
	m := map[string]route{}
	for _, a := range apis {
		for _, f := range a.families {
			p := apiPath(f, a.name)
			m[p] = route{endpoint: a.list, family: f, deny: a.denyList, queue: a.queue, prefix: p,
				beta: f == FamilyBeta && a.name == "account-activities"}
		}
	}
	return m
}()

func matchRoute(path string) (route, bool) {
	if rt, ok := routes[path]; ok {
		return rt, true
	}
	i := strings.LastIndexByte(path, '/')
	if i < 0 || i == len(path)-1 {
		return route{}, false
	}
	rt, ok := routes[path[:i]]
	if !ok {
		return route{}, false
	}
	for _, a := range apis {
		if a.list == rt.endpoint {
			rt.endpoint, rt.deny = a.one, a.denyOne
		}
	}
	rt.id = path[i+1:]
	return rt, true
}

const contentTypeJSON = "application/json;charset=utf-8"

// Request is one entry of the request log, for tests that assert on how a
// client talked to the tenant (paging, retries, token reuse).
type Request struct {
	Time     time.Time // arrival, on the tenant's clock
	Method   string
	Path     string
	RawQuery string
	// Endpoint is "token"; "list" or "get" for account activities;
	// "sources", "source", "managed-clusters", "managed-cluster",
	// "task-status" or "task-status-one"; or "" for anything else. It is the same whichever family's path was used.
	Endpoint string
	// Family is the API family of the path: FamilyV1 for the per-service
	// paths (/sources/v1), or v3, v2024, v2025, v2026, beta; "" for the
	// token endpoint and unknown paths.
	Family string
	// Experimental is whether the request carried X-SailPoint-Experimental: true.
	Experimental bool
	Status       int // 0 when the connection was dropped without an answer
	ClientID     string
	Fault        string // the Kind of an injected Fault, if any: fail, reset, truncate, malform, slow, ratelimit
}

// reply is a response computed before it is written, so faults can mangle
// a real body (TruncateNext cuts the page the client would have received).
type reply struct {
	status int
	header http.Header
	body   []byte
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled; failing here is a bug.
		panic("simtenant: marshal reply: " + err.Error())
	}
	return reply{status: status, body: b}
}

// jsonArray marshals a page; an empty one is [], never null.
func jsonArray[T any](items []*T) []byte {
	if len(items) == 0 {
		return []byte("[]")
	}
	return jsonReply(http.StatusOK, items).body
}

func (rep reply) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

type errorMessage struct {
	Locale       string `json:"locale"`
	LocaleOrigin string `json:"localeOrigin"`
	Text         string `json:"text"`
}

type errorResponse struct {
	DetailCode string          `json:"detailCode"`
	TrackingID string          `json:"trackingId"`
	Messages   []errorMessage  `json:"messages"`
	Causes     *[]errorMessage `json:"causes,omitempty"`
}

// errorDTO builds the spec's ErrorResponseDto with the detail codes and
// texts the spec's examples use.
func errorDTO(status int, text string) reply {
	code := strconv.Itoa(status) + " " + http.StatusText(status)
	switch status {
	case http.StatusBadRequest:
		code = "400.1 Bad Request Content"
	case http.StatusNotFound:
		code = "404 Not found"
		if text == "" {
			text = "The server did not find a current representation for the target resource."
		}
	case http.StatusForbidden:
		if text == "" {
			text = "The server understood the request but refuses to authorize it."
		}
	case http.StatusInternalServerError:
		code = "500.0 Internal Fault"
		if text == "" {
			text = "An internal fault occurred."
		}
	}
	if text == "" {
		text = http.StatusText(status)
	}
	e := errorResponse{
		DetailCode: code,
		TrackingID: randomHex(16),
		Messages:   []errorMessage{{"en-US", "DEFAULT", text}},
	}
	if status == http.StatusBadRequest {
		e.Causes = &[]errorMessage{}
	}
	return jsonReply(status, e)
}

// pageReply is a list page, with X-Total-Count when count=true asked for it.
func pageReply(body []byte, total int, count bool) reply {
	rep := reply{status: http.StatusOK, body: body}
	if count {
		rep.header = http.Header{"X-Total-Count": {strconv.Itoa(total)}}
	}
	return rep
}

func unauthorized(text string) *reply {
	r := jsonReply(http.StatusUnauthorized, map[string]string{"error": text})
	return &r
}

func tooManyRequests(retryAfter time.Duration) reply {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	r := jsonReply(http.StatusTooManyRequests, map[string]string{"message": " Rate Limit Exceeded "})
	r.header = http.Header{"Retry-After": {strconv.Itoa(max(secs, 0))}}
	return r
}

// randomHex uses crypto/rand rather than the seeded source so that serving
// requests never changes which data a seed produces.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusWriter records the status for the request log. The entry is
// completed when the status is written, before the body: a client that has
// read the whole body must find its request logged.
// It also stamps the Date header from the tenant's clock when the answer
// goes out; Go's server would use the host clock.
// extra holds the deprecation headers of the path, sent with every answer.
type statusWriter struct {
	http.ResponseWriter
	status   int
	onStatus func(status int)
	date     func() string
	extra    http.Header
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		h := w.Header()
		h.Set("Date", w.date())
		for k, v := range w.extra {
			h[k] = v
		}
		w.onStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (t *Tenant) serveHTTP(w http.ResponseWriter, r *http.Request) {
	entry := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	seq := t.logRequest(&entry)
	sw := &statusWriter{ResponseWriter: w, onStatus: func(status int) {
		entry.Status = status
		t.finishRequest(seq, entry)
	}, date: func() string { return t.clock().Format(http.TimeFormat) }}
	defer func() {
		if sw.status == 0 { // the connection was reset: no status
			t.finishRequest(seq, entry)
		}
	}()
	sw.extra = t.deprecationHeaders(r.URL.Path)
	if r.URL.Path == "/oauth/token" {
		entry.Endpoint = "token"
		t.serveToken(r, &entry).write(sw)
		return
	}
	rt, ok := matchRoute(r.URL.Path)
	if !ok {
		errorDTO(http.StatusNotFound, "").write(sw)
		return
	}
	entry.Endpoint, entry.Family = rt.endpoint, rt.family
	entry.Experimental = strings.EqualFold(strings.TrimSpace(r.Header.Get("X-SailPoint-Experimental")), "true")
	if t.pathDisabled(r.URL.Path, rt.family) {
		// As on a tenant that does not publish the path yet: the gateway
		// knows nothing there, before any credential is looked at.
		errorDTO(http.StatusNotFound, "").write(sw)
		return
	}
	if r.Method != http.MethodGet {
		errorDTO(http.StatusMethodNotAllowed, "Request method '"+r.Method+"' is not supported").write(sw)
		return
	}
	t.serveAPI(sw, r, &entry, rt)
}

// serveAPI runs an injected fault first (see Interceptor), so "the next n
// requests" means the next n that arrive, whatever their credentials; a
// delayed or mangled response still goes through auth and rate limiting
// like a real one.
func (t *Tenant) serveAPI(w *statusWriter, r *http.Request, entry *Request, rt route) {
	f := t.popFault(rt.queue)
	entry.Fault = f.Kind
	switch f.Kind {
	case FaultFail:
		failReply(f.Status).write(w)
		return
	case FaultRateLimit:
		tooManyRequests(f.Delay).write(w)
		return
	case FaultReset:
		resetConn(w)
		return
	case FaultSlow:
		timer := time.NewTimer(f.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		case <-t.closed:
			return
		}
	}
	rep := t.answer(r, entry, rt)
	switch f.Kind {
	case FaultTruncate:
		writeTruncated(w, rep)
	case FaultMalform:
		if rep.status == http.StatusOK {
			rep.body = []byte(`[{"id":"` + randomHex(16) + `","name":,"created":"2026-]`)
		}
		rep.write(w)
	default:
		rep.write(w)
	}
}

// answer checks the token, then the rate limit, then the scope (Deny), as
// ISC's gateway does, before the endpoint reads any data.
func (t *Tenant) answer(r *http.Request, entry *Request, rt route) reply {
	client, rep := t.authenticate(r)
	if rep != nil {
		return *rep
	}
	entry.ClientID = client
	if ok, wait := t.allow(client); !ok {
		return tooManyRequests(wait)
	}
	t.mu.Lock()
	status := t.denied[rt.deny]
	needsHeader := t.experimental[rt.prefix]
	t.mu.Unlock()
	if needsHeader && !entry.Experimental {
		return errorDTO(http.StatusBadRequest, "This API is experimental: send the header 'X-SailPoint-Experimental: true' to use it.")
	}
	if status != 0 {
		return errorDTO(status, "")
	}
	switch rt.endpoint {
	case "list":
		return t.listActivities(r, rt.beta)
	case "get":
		return t.getActivity(rt.id, rt.beta)
	case "sources":
		return t.listSources(r)
	case "source":
		return t.getSource(rt.id)
	case "managed-clusters":
		return t.listClusters(r)
	case "managed-cluster":
		return t.getCluster(rt.id)
	case "task-status":
		return t.listTasks(r, rt.family)
	}
	return t.getTask(rt.id)
}

// Deny makes one endpoint family answer status after authentication and
// rate limiting, the way ISC answers 403 to a token without the scope, or
// 404 where an older tenant lacks the path, until Deny(family, 0). Families
// are "list" and "get" (account activities), "sources" (list and by id) and
// "managed-clusters" (list and by id) and "task-status" (list and by id),
// under every path that serves them
// (/v3, /v2025, /sources/v1, ...); any other name panics.
func (t *Tenant) Deny(family string, status int) {
	switch family {
	case "list", "get", "sources", "managed-clusters", "task-status":
	default:
		panic("simtenant: Deny: unknown endpoint family " + strconv.Quote(family))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if status == 0 {
		delete(t.denied, family)
		return
	}
	t.denied[family] = status
}

// resetConn drops the connection without a byte of response, the way a
// load balancer does when a backend dies. Linger 0 turns the close into a
// TCP RST so the client sees a reset rather than a clean EOF.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// writeTruncated promises the full Content-Length and then closes after
// half the body, which is what a client sees when a proxy dies mid-stream.
func writeTruncated(w *statusWriter, rep reply) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer func() { _ = conn.Close() }()
	w.status = rep.status
	w.onStatus(rep.status)
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(rep.status) + " " + http.StatusText(rep.status) + "\r\n")
	b.WriteString("Date: " + w.date() + "\r\n")
	for k, vs := range w.extra {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	for k, vs := range rep.header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("Content-Type: " + contentTypeJSON + "\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(rep.body)) + "\r\n")
	b.WriteString("Connection: close\r\n\r\n")
	_, _ = buf.WriteString(b.String())
	_, _ = buf.Write(rep.body[:len(rep.body)/2])
	_ = buf.Flush()
}

func failReply(status int) reply {
	switch status {
	case http.StatusTooManyRequests:
		return tooManyRequests(time.Second)
	case http.StatusUnauthorized:
		return *unauthorized("JWT validation failed")
	}
	return errorDTO(status, "")
}

// logRequest records a request on arrival, so the log is in arrival order
// even when a slow answer finishes after later ones.
func (t *Tenant) logRequest(e *Request) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.Time = t.now()
	if len(t.reqLog) >= t.cfg.RequestLogSize {
		half := len(t.reqLog) / 2
		n := copy(t.reqLog, t.reqLog[half:])
		copy(t.reqSeq, t.reqSeq[half:])
		clear(t.reqLog[n:])
		t.reqLog = t.reqLog[:n]
		t.reqSeq = t.reqSeq[:n]
	}
	t.nextReq++
	t.reqLog = append(t.reqLog, *e)
	t.reqSeq = append(t.reqSeq, t.nextReq)
	return t.nextReq
}

func (t *Tenant) finishRequest(seq uint64, e Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := slices.BinarySearch(t.reqSeq, seq); ok {
		t.reqLog[i] = e
	}
}

// Requests returns the request log, oldest first. It is bounded by
// Config.RequestLogSize; the oldest half is dropped when full.
func (t *Tenant) Requests() []Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Request(nil), t.reqLog...)
}

// Start serves the tenant on an ephemeral loopback port. It never binds a
// public interface: the demo tenant has well-known credentials.
func (t *Tenant) Start() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.srv != nil {
		return "", errors.New("simtenant: already started")
	}
	lis, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	t.srv = &http.Server{Handler: http.HandlerFunc(t.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(lis) }(t.srv)
	return "http://" + lis.Addr().String(), nil
}

// Close stops the server started by Start, aborting requests held by
// SlowNext. It is safe to call more than once, or without Start.
func (t *Tenant) Close() error {
	t.mu.Lock()
	srv := t.srv
	select {
	case <-t.closed:
	default:
		close(t.closed)
	}
	t.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
