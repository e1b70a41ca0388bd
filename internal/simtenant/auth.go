package simtenant

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

type token struct {
	client  string
	expires time.Time
	revoked bool // set by ExpireTokens: reported as expired, like a real JWT past exp
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	TenantID    string `json:"tenant_id"`
	Internal    bool   `json:"internal"`
	JTI         string `json:"jti"`
}

func oauthError(status int, code, desc string) reply {
	return jsonReply(status, map[string]string{"error": code, "error_description": desc})
}

// clientCredentials accepts HTTP Basic, form fields and query parameters,
// because SailPoint's own docs show query parameters while OAuth libraries
// default to Basic or the form body.
func clientCredentials(r *http.Request) (id, secret string) {
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1: Basic credentials are form-encoded first.
		if v, err := url.QueryUnescape(u); err == nil {
			u = v
		}
		if v, err := url.QueryUnescape(p); err == nil {
			p = v
		}
		return u, p
	}
	return r.Form.Get("client_id"), r.Form.Get("client_secret")
}

func (t *Tenant) serveToken(r *http.Request, entry *Request) reply {
	if r.Method != http.MethodPost {
		return errorDTO(http.StatusMethodNotAllowed, "Request method '"+r.Method+"' is not supported")
	}
	if f := t.popFault(QueueToken); f.Kind != "" {
		entry.Fault = f.Kind
		switch f.Status {
		case http.StatusUnauthorized:
			return oauthError(f.Status, "invalid_client", "Bad client credentials")
		case http.StatusTooManyRequests:
			return tooManyRequests(time.Second)
		case http.StatusBadRequest:
			return oauthError(f.Status, "invalid_request", "Bad request")
		}
		return errorDTO(f.Status, "")
	}
	if err := r.ParseForm(); err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request", err.Error())
	}
	id, secret := clientCredentials(r)
	entry.ClientID = id
	t.mu.Lock()
	defer t.mu.Unlock()
	want, known := t.cfg.Clients[id]
	if !known || id == "" || secret != want {
		return oauthError(http.StatusUnauthorized, "invalid_client", "Bad client credentials")
	}
	switch gt := r.Form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return oauthError(http.StatusBadRequest, "invalid_request", "Missing grant type")
	default:
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+gt)
	}
	now := t.now()
	t.pruneTokens(now)
	access := randomHex(32)
	t.tokens[access] = &token{client: id, expires: now.Add(t.cfg.TokenTTL)}
	rep := jsonReply(http.StatusOK, tokenResponse{
		AccessToken: access,
		TokenType:   "bearer",
		ExpiresIn:   int(t.cfg.TokenTTL / time.Second),
		Scope:       "sp:scopes:all",
		TenantID:    t.tenantID,
		Internal:    true,
		JTI:         randomHex(4) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(6),
	})
	rep.header = http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
	return rep
}

// pruneTokens forgets tokens an hour after expiry. Until then an expired
// token is reported as expired rather than unknown, as a JWT would be.
func (t *Tenant) pruneTokens(now time.Time) {
	for k, tok := range t.tokens {
		if now.Sub(tok.expires) > time.Hour {
			delete(t.tokens, k)
		}
	}
}

func (t *Tenant) authenticate(r *http.Request) (string, *reply) {
	h := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(h, " ")
	if h == "" {
		return "", unauthorized("JWT validation failed: JWT is missing")
	}
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
		return "", unauthorized("JWT validation failed: JWT is malformed")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tok := t.tokens[strings.TrimSpace(value)]
	switch {
	case tok == nil:
		return "", unauthorized("JWT validation failed: JWT is malformed")
	case tok.revoked || !t.now().Before(tok.expires):
		return "", unauthorized("JWT validation failed: JWT is expired")
	}
	return tok.client, nil
}

// ExpireTokens makes every token issued so far expired, so a test can check
// that a client refreshes its token on 401 instead of waiting for expires_in.
func (t *Tenant) ExpireTokens() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tok := range t.tokens {
		tok.revoked = true
	}
}
