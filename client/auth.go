package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// maxRefreshMargin is how long before expiry a token is replaced. ISC's tokens
// live about 12.5 minutes; a minute of margin covers clock skew and slow
// requests, so an expired token is never sent.
const maxRefreshMargin = time.Minute

// fallbackTokenLifetime is assumed when the token endpoint omits expires_in.
const fallbackTokenLifetime = 10 * time.Minute

// tokenCache holds one access token and replaces it before it expires, or at
// once when ISC rejects it. oauth2.ReuseTokenSource cannot be told that a
// token was revoked, so it is not used.
type tokenCache struct {
	cfg        clientcredentials.Config
	httpClient *http.Client
	now        func() time.Time

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshAt time.Time
}

func (t *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.tok != nil && now.Before(t.refreshAt) {
		return t.tok, nil
	}
	tok, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.httpClient))
	if err != nil {
		err := classifyTokenError(err)
		var api *APIError
		if errors.As(err, &api) {
			api.redact(t.cfg.ClientSecret)
		}
		return nil, err
	}
	lifetime := fallbackTokenLifetime
	if !tok.Expiry.IsZero() {
		lifetime = tok.Expiry.Sub(now)
	}
	t.tok, t.refreshAt = tok, now.Add(lifetime-min(maxRefreshMargin, lifetime/4))
	return tok, nil
}

// setSecret makes the next token request use secret, and drops the cached
// token so that the next request fetches one with it: a rotated secret
// takes effect at once, and a revoked one is said at once.
func (t *tokenCache) setSecret(secret string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.ClientSecret = secret
	t.tok = nil
}

// invalidate drops tok if it is still the cached one, so that the next call
// fetches a new token; a token another request already replaced stays.
func (t *tokenCache) invalidate(tok *oauth2.Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok == tok {
		t.tok = nil
	}
}

// TokenError is a failure to obtain an access token.
type TokenError struct {
	StatusCode int // 0 when no HTTP answer arrived
	Err        error
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("fetching an access token: %v", e.Err)
}

func (e *TokenError) Unwrap() error { return e.Err }

// Is makes a refusal of the credentials match ErrUnauthorized.
func (e *TokenError) Is(target error) bool {
	return target == ErrUnauthorized && (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden)
}

func (e *TokenError) temporary() bool {
	return e.StatusCode == 0 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= http.StatusInternalServerError
}

func classifyTokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		api := newAPIError(re.Response.StatusCode, re.Body)
		if re.ErrorCode != "" && len(api.Messages) == 0 {
			api.Messages = []string{re.ErrorCode}
		}
		return &TokenError{StatusCode: re.Response.StatusCode, Err: api}
	}
	return &TokenError{Err: unwrapURLError(err)}
}
