package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"
)

// Defaults, from ISC's documented limits: 250 records a page, 100 requests per
// 10 s per client id (5/s leaves half of that to other integrations).
const (
	defaultPageSize          = 250
	MaxPageSize              = 250
	defaultRequestsPerSecond = 5
	defaultTimeout           = 30 * time.Second
	defaultMaxRetries        = 5
)

// ActivitiesScope is the scope the spec lists for the account activities
// paths: a token needs it to list or get account activities.
const ActivitiesScope = "sp:scopes:all"

// Config says where ISC is and how hard the client may use it.
type Config struct {
	BaseURL      string // https://{tenant}.api.identitynow.com
	TokenURL     string // default BaseURL + "/oauth/token"
	ClientID     string
	ClientSecret string
	// API is the family of paths every call follows; default DefaultFamily.
	API Family
	// ActivitiesPath, when set, is the account activities' path whatever
	// the family (e.g. /v3/account-activities): the old way to choose it.
	ActivitiesPath string

	RequestsPerSecond float64       // default defaultRequestsPerSecond
	Timeout           time.Duration // per HTTP attempt, body included; default defaultTimeout
	PageSize          int           // default and maximum 250
	MaxRetries        int           // retries of a 5xx, reset, timeout or malformed answer; default defaultMaxRetries, negative for none
	MinBackoff        time.Duration // first retry delay; default 500ms
	MaxBackoff        time.Duration // longest retry delay; default 30s

	HTTPClient *http.Client // default: a client with its own transport
	UserAgent  string
	Logger     *slog.Logger
	// Observe, when set, is told of every HTTP attempt: the endpoint, the HTTP
	// status code or "error" when no answer arrived, and how long it took.
	Observe func(endpoint, code string, d time.Duration)
	// Deprecated, when set, is told of every answer that carries a
	// deprecation header (X-Deprecated, Deprecation, Sunset).
	Deprecated func(Deprecation)
	// Unexpected, when set, is told of every answer that is not as ISC
	// documents it but can still be used (a page not sorted as asked,
	// records without an id), by endpoint and kind.
	Unexpected func(endpoint, kind string)
}

// Client reads account activities from one ISC tenant. It is safe for
// concurrent use; all requests share one rate limiter and one token.
type Client struct {
	cfg       Config
	base      *url.URL
	routes    map[string]*route // by endpoint: where each service's requests go
	http      *http.Client
	tokens    *tokenCache
	limiter   *rate.Limiter
	decoders  sync.Pool
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error // the package's sleep; tests pass a fake clock's
	logger    *slog.Logger
	userAgent string

	clock   iscClock
	health  health
	odd     unexpectedLog
	answers answerTimes // how long ISC takes to answer, for ScanRanges
	// answerTime is the mean of answers; tests set what ISC takes.
	answerTime func() time.Duration

	mu        sync.Mutex
	notBefore time.Time // set by a 429: nothing is sent to ISC before it

	secretMu sync.Mutex // guards cfg.ClientSecret, which a reload may rotate
}

// New checks cfg and returns a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("ISC URL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("a client id and a client secret are required")
	}
	if cfg.API == "" {
		cfg.API = DefaultFamily
	}
	if _, err := ParseFamily(string(cfg.API)); err != nil {
		return nil, err
	}
	if cfg.ActivitiesPath != "" && !strings.HasPrefix(cfg.ActivitiesPath, "/") {
		cfg.ActivitiesPath = "/" + cfg.ActivitiesPath
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = base.String() + "/oauth/token"
	}
	if _, err := url.Parse(cfg.TokenURL); err != nil {
		return nil, fmt.Errorf("token URL: %w", err)
	}
	if cfg.RequestsPerSecond <= 0 {
		cfg.RequestsPerSecond = defaultRequestsPerSecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = defaultPageSize
	}
	if cfg.PageSize > MaxPageSize {
		return nil, fmt.Errorf("page size %d exceeds ISC's maximum of %d", cfg.PageSize, MaxPageSize)
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	} else if cfg.MaxRetries == 0 {
		cfg.MaxRetries = defaultMaxRetries
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "sailpoint_exporter"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 4
		hc = &http.Client{Transport: transport}
	}
	// Redirects are not followed: ISC does not send them, and following one
	// would carry the bearer token to another host.
	api := *hc
	api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tokenHTTP := *hc
	tokenHTTP.Timeout = cfg.Timeout

	c := &Client{
		cfg:       cfg,
		base:      base,
		routes:    map[string]*route{},
		http:      &api,
		limiter:   rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), int(math.Ceil(cfg.RequestsPerSecond))),
		now:       time.Now,
		sleep:     sleep,
		logger:    cfg.Logger,
		userAgent: cfg.UserAgent,
	}
	c.answerTime = c.answers.mean
	c.clock = iscClock{logger: cfg.Logger}
	tokenHTTP.Transport = observingTransport{next: transportOf(hc), observe: cfg.Observe, c: c}
	c.tokens = &tokenCache{
		cfg: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.TokenURL,
			AuthStyle:    oauth2.AuthStyleInParams,
		},
		httpClient: &tokenHTTP,
		now:        time.Now,
	}
	c.decoders.New = func() any { return newPageDecoder() }
	for _, e := range []string{EndpointList, EndpointSources, EndpointManagedClusters, EndpointTaskStatus} {
		override := ""
		if e == EndpointList {
			override = cfg.ActivitiesPath
		}
		c.routes[e] = newRoute(e, cfg.API, override)
	}
	for _, line := range substitutions(cfg.API) {
		c.logger.Info(line)
	}
	return c, nil
}

// UpdateSecret makes the client use a rotated client secret from its next
// token request on.
func (c *Client) UpdateSecret(secret string) {
	c.secretMu.Lock()
	c.cfg.ClientSecret = secret
	c.secretMu.Unlock()
	c.tokens.setSecret(secret)
}

// secret is the client secret, for redaction.
func (c *Client) secret() string {
	c.secretMu.Lock()
	defer c.secretMu.Unlock()
	return c.cfg.ClientSecret
}

// Get returns one account activity. An unknown id is an error matching ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (Activity, error) {
	if id == "" {
		return Activity{}, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	u := c.endpointURL(EndpointList).JoinPath(id)
	var a Activity
	err := c.call(ctx, EndpointGet, u, func(body io.Reader, length int64, _ http.Header) error {
		d := c.decoders.Get().(*pageDecoder)
		defer c.decoders.Put(d)
		var err error
		a, err = d.decodeOne(body, length)
		return err
	})
	if err != nil {
		return Activity{}, fmt.Errorf("get account activity %s: %w", id, err)
	}
	return a, nil
}

// decodeFunc reads a 200 answer's body, of the announced length (-1 when
// unknown), with the answer's header.
type decodeFunc func(body io.Reader, length int64, header http.Header) error

// repeatedDecodeError says that ISC answered the same request twice with
// the same body that does not decode: retrying will not help, a smaller page
// may.
type repeatedDecodeError struct{ *DecodeError }

func (e *repeatedDecodeError) Unwrap() error { return e.DecodeError }

// call sends GET u until it succeeds or fails for good: a 401 is retried once
// with a new token, a 429 after its Retry-After, a 5xx, reset, timeout or
// malformed body after an exponential backoff with jitter, at most MaxRetries
// times; every wait ends with ctx. A body that fails to decode the same way
// twice is not retried further (repeatedDecodeError). A per-service list
// path that answers 404 moves, for good, to the fallback collection's path
// and is asked again there at once.
func (c *Client) call(ctx context.Context, endpoint string, u *url.URL, decode decodeFunc) error {
	var (
		retries, rateLimited int
		renewedToken         bool
		lastUndecodable      string // hash of the last complete body that did not decode
	)
	for {
		if err := c.waitTurn(ctx); err != nil {
			return err
		}
		rt := c.routeOf(endpoint)
		path, experimental := rt.current()
		tok, err := c.tokens.token(ctx)
		if err == nil {
			err = c.attempt(ctx, endpoint, u, tok, experimental, decode)
		}
		if err == nil {
			return nil
		}
		var notFound *APIError
		if endpoint != EndpointGet && errors.As(err, &notFound) && notFound.StatusCode == http.StatusNotFound {
			if old, now, ok := rt.fallBack(path); ok {
				c.logger.Warn("ISC answers 404 on the per-service path: this tenant does not serve it yet; using the "+string(fallbackFamily)+" collection's path for this endpoint from now on",
					"endpoint", endpoint, "path", old, "now", now)
				moved := c.endpointURL(endpoint)
				moved.RawQuery = u.RawQuery
				*u = *moved
				continue
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		var api *APIError
		var tokErr *TokenError
		var decErr *DecodeError
		switch {
		case errors.As(err, &decErr) && decErr.Complete:
			if decErr.Hash == lastUndecodable {
				return &repeatedDecodeError{decErr}
			}
			lastUndecodable = decErr.Hash
		case errors.As(err, &tokErr):
			if !tokErr.temporary() {
				return err
			}
		case errors.As(err, &api) && api.StatusCode == http.StatusUnauthorized && !renewedToken:
			// The token was revoked or expired early: one more try with a new one.
			renewedToken = true
			c.tokens.invalidate(tok)
			continue
		case errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests:
			rateLimited++
			if rateLimited > 2*c.cfg.MaxRetries {
				return err
			}
			wait, ok := api.retryAfter(c.now())
			if !ok {
				wait = c.backoff(rateLimited)
			}
			c.holdOff(wait)
			c.logger.Debug("ISC rate limited the exporter", "endpoint", endpoint, "wait", wait)
			continue
		case errors.As(err, &api) && !api.temporary():
			return err
		}
		if retries >= c.cfg.MaxRetries {
			if decErr != nil && decErr.Complete && c.cfg.MaxRetries == 0 {
				return &repeatedDecodeError{decErr} // no retry may confirm it
			}
			return fmt.Errorf("giving up after %d attempts: %w", retries+1, err)
		}
		retries++
		wait := c.backoff(retries)
		if api != nil {
			// A 503 may say when to come back, as a 429 does.
			if after, ok := api.retryAfter(c.now()); ok && after > wait {
				wait = after
			}
		}
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			return fmt.Errorf("giving up: the next retry would come after the deadline: %w", err)
		}
		c.logger.Debug("retrying ISC request", "endpoint", endpoint, "attempt", retries, "wait", wait, "err", err)
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// attempt sends one request and hands a 200 body to decode.
func (c *Client) attempt(ctx context.Context, endpoint string, u *url.URL, tok *oauth2.Token, experimental bool, decode decodeFunc) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if experimental {
		// Where, and only where, SailPoint's documents mark the operation
		// experimental: ISC refuses it without.
		req.Header.Set("X-SailPoint-Experimental", "true")
	}
	tok.SetAuthHeader(req)

	start, sent := c.now(), time.Now()
	code := "error"
	n := c.health.begin(start)
	answered := false
	defer func() {
		c.health.end(n, start, answered)
		if code == "200" {
			// On the real clock, as the rate limiter's.
			c.answers.observe(time.Since(sent))
		}
		if c.cfg.Observe != nil {
			c.cfg.Observe(endpoint, code, c.now().Sub(start))
		}
	}()
	resp, err := c.http.Do(req)
	if err != nil {
		return unwrapURLError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	c.clock.observe(resp.Header, start, c.now())
	code = fmt.Sprint(resp.StatusCode)
	if d, ok := deprecationOf(resp.Header); ok && c.cfg.Deprecated != nil {
		d.Endpoint, d.Path = endpoint, u.Path
		c.cfg.Deprecated(d)
	}
	if resp.StatusCode != http.StatusOK {
		answered = resp.StatusCode < http.StatusInternalServerError
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		api := newAPIError(resp.StatusCode, body)
		api.redact(c.secret(), tok.AccessToken)
		api.header = resp.Header
		return api
	}
	if err := decode(resp.Body, resp.ContentLength, resp.Header); err != nil {
		// Garbage is no answer worth having: ISC sending only garbage is
		// down as surely as ISC sending nothing. A bad record among good
		// ones is set apart within a few requests, far sooner than the
		// stall is said.
		return err
	}
	answered = true
	// Drain what little may follow, so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

// waitTurn blocks until ISC's Retry-After has passed and the rate limiter
// allows one more request, or fails at once if ctx ends first.
func (c *Client) waitTurn(ctx context.Context) error {
	c.mu.Lock()
	until := c.notBefore
	c.mu.Unlock()
	if wait := until.Sub(c.now()); wait > 0 {
		if deadline, ok := ctx.Deadline(); ok && deadline.Before(until) {
			return fmt.Errorf("%w: ISC asked to wait until %s, after the deadline", ErrRateLimited, until.UTC().Format(time.RFC3339))
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("waiting for the request rate limit: %w", err)
	}
	return nil
}

// holdOff keeps every request of this client from ISC for d.
func (c *Client) holdOff(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := c.now().Add(d); until.After(c.notBefore) {
		c.notBefore = until
	}
}

// backoff is the delay before retry n (1-based): exponential, capped, with
// full jitter so that several exporters do not retry in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.MaxBackoff
	if n < 31 {
		d = min(c.cfg.MinBackoff<<(n-1), c.cfg.MaxBackoff)
	}
	return d/2 + jitter(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// unwrapURLError drops the request URL from transport errors: it says nothing
// the caller does not know and makes log lines long.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var ne net.Error
		if errors.As(ue.Err, &ne) && ne.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

// observingTransport reports token requests, which the oauth2 package sends,
// and takes their answers into ISC's clock and health.
type observingTransport struct {
	next    http.RoundTripper
	observe func(endpoint, code string, d time.Duration)
	c       *Client
}

func (t observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.c.now()
	n := t.c.health.begin(start)
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = fmt.Sprint(resp.StatusCode)
		t.c.clock.observe(resp.Header, start, t.c.now())
	}
	t.c.health.end(n, start, err == nil && resp.StatusCode < http.StatusInternalServerError)
	if t.observe != nil {
		t.observe(EndpointToken, code, t.c.now().Sub(start))
	}
	return resp, err
}
