package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// Problem is what a check at start found wrong, said so that the one log
// line tells the operator what to do.
type Problem struct {
	Endpoint string // token, list, sources, managed-clusters, task-status
	Path     string // the path asked, or the token URL
	Kind     string // dns, refused, tls, timeout, credentials, forbidden, not-found, rate-limited, other
	Advice   string
	Err      error
}

// Problem kinds.
const (
	ProblemDNS         = "dns"
	ProblemRefused     = "refused"
	ProblemTLS         = "tls"
	ProblemTimeout     = "timeout"
	ProblemCredentials = "credentials"
	ProblemForbidden   = "forbidden"
	ProblemNotFound    = "not-found"
	ProblemRateLimited = "rate-limited"
	ProblemOther       = "other"
)

// scopes are what each endpoint needs, as SailPoint's documents list them.
var scopes = map[string]string{
	EndpointList:            ActivitiesScope,
	EndpointSources:         SourcesScope,
	EndpointManagedClusters: ManagedClustersScope,
	EndpointTaskStatus:      TaskStatusScope,
}

// Check asks ISC once for a token and then once, for the smallest page, on
// each endpoint given, without retries, and says what is wrong with each
// answer that is not a success; nil when all answered. It takes the time
// ctx allows (the exporter gives it 5 s) and stops at the first problem
// with the token, since nothing else can answer without one. A per-service
// path that answers 404 falls back as any request does.
func (c *Client) Check(ctx context.Context, endpoints ...string) []Problem {
	tok, err := c.tokens.token(ctx)
	if err != nil {
		return []Problem{c.problem(EndpointToken, c.cfg.TokenURL, err)}
	}
	var out []Problem
	for _, endpoint := range endpoints {
		if ctx.Err() != nil {
			break
		}
		rt := c.routeOf(endpoint)
		for {
			path, experimental := rt.current()
			u := c.endpointURL(endpoint)
			u.RawQuery = "limit=1"
			err := c.attempt(ctx, endpoint, u, tok, experimental, func(body io.Reader, _ int64, _ http.Header) error {
				_, err := io.Copy(io.Discard, io.LimitReader(body, maxListPageBody))
				return err
			})
			var api *APIError
			if errors.As(err, &api) && api.StatusCode == http.StatusNotFound {
				if old, now, ok := rt.fallBack(path); ok {
					c.logger.Warn("ISC answers 404 on the per-service path: this tenant does not serve it yet; using the "+string(fallbackFamily)+" collection's path for this endpoint from now on",
						"endpoint", endpoint, "path", old, "now", now)
					continue
				}
			}
			if err != nil {
				out = append(out, c.problem(endpoint, path, err))
			}
			break
		}
	}
	return out
}

// problem classifies err, an answer of endpoint at path, with advice.
func (c *Client) problem(endpoint, path string, err error) Problem {
	p := Problem{Endpoint: endpoint, Path: path, Kind: ProblemOther, Err: err}
	var (
		dns  *net.DNSError
		api  *APIError
		tok  *TokenError
		rec  tls.RecordHeaderError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		host x509.HostnameError
		ne   net.Error
	)
	what := "ISC"
	if endpoint == EndpointToken {
		what = "the token URL " + path
	}
	switch {
	case errors.As(err, &dns):
		p.Kind, p.Advice = ProblemDNS, "the name "+dns.Name+" does not resolve: check --isc.url (the API URL of /ui/session's baseUrl, https://TENANT.api.identitynow.com) and the host's DNS"
	case errors.Is(err, syscall.ECONNREFUSED):
		p.Kind, p.Advice = ProblemRefused, what+" refused the connection: check the host and port of --isc.url, and any proxy (HTTPS_PROXY)"
	case errors.As(err, &rec) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		p.Kind, p.Advice = ProblemTLS, what+" does not speak TLS on that port: the URL says https but the server answers plain HTTP; check the scheme and port of --isc.url"
	case errors.As(err, &cert) || errors.As(err, &ua) || errors.As(err, &host):
		p.Kind, p.Advice = ProblemTLS, what+" presented a certificate this host does not trust for that name: check --isc.url, and a TLS-intercepting proxy's CA (SSL_CERT_FILE)"
	case errors.As(err, &tok) && errors.Is(err, ErrUnauthorized):
		p.Kind, p.Advice = ProblemCredentials, "ISC refused the client id and secret (HTTP "+fmt.Sprint(tok.StatusCode)+"): check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET or --isc.client-secret-file (a trailing newline is trimmed), whether the personal access token was revoked or its owner disabled, and --isc.token-url"
	case errors.As(err, &api) && api.StatusCode == http.StatusUnauthorized:
		p.Kind, p.Advice = ProblemCredentials, "ISC refused the fresh token on "+path+" (HTTP 401): the personal access token or its owner changed; create a new one"
	case errors.As(err, &api) && api.StatusCode == http.StatusForbidden:
		p.Kind, p.Advice = ProblemForbidden, "ISC refused "+path+" (HTTP 403): the token needs the scope "+scopes[endpoint]+" (sp:scopes:all includes it) and an owner of a user level that may read it"
	case errors.As(err, &api) && api.StatusCode == http.StatusNotFound:
		p.Kind, p.Advice = ProblemNotFound, "ISC has no "+path+" (HTTP 404): check --isc.url (the API host, not the UI host) and the path; the paths the exporter knows for this endpoint are "+strings.Join(knownPaths(endpoint), ", ")
	case errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests || errors.As(err, &tok) && tok.StatusCode == http.StatusTooManyRequests:
		p.Kind, p.Advice = ProblemRateLimited, "ISC rate limits this client id (HTTP 429): another exporter, replica or script may share it; the exporter waits as ISC says and goes on"
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded):
		p.Kind, p.Advice = ProblemTimeout, what+" did not answer in time: check the network path to it (firewall, proxy); the exporter keeps trying"
	default:
		p.Advice = what + " failed: " + err.Error()
	}
	return p
}

// knownPaths are the paths of an endpoint in every family.
func knownPaths(endpoint string) []string {
	var out []string
	for _, f := range Families {
		if path, in, _ := services[endpoint].at(f); in == f {
			out = append(out, path)
		}
	}
	return out
}
