package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

var (
	// ErrNotFound: ISC has no account activity with that id.
	ErrNotFound = errors.New("account activity not found")
	// ErrUnauthorized: ISC refused the credentials or the token, even fresh.
	ErrUnauthorized = errors.New("not authorized by ISC")
	// ErrForbidden: ISC accepted the token but refused the request (HTTP
	// 403): the token lacks a scope, or its owner a user level.
	ErrForbidden = errors.New("forbidden by ISC")
	// ErrRateLimited: ISC kept answering 429 until the retries or the
	// caller's deadline ran out.
	ErrRateLimited = errors.New("rate limited by ISC")
)

// APIError is an error answer of ISC, decoded from its ErrorResponseDto.
type APIError struct {
	StatusCode int
	DetailCode string
	TrackingID string
	Messages   []string

	header http.Header // for Retry-After
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ISC answered HTTP %d", e.StatusCode)
	if e.DetailCode != "" || e.TrackingID != "" {
		b.WriteString(" (")
		b.WriteString(e.DetailCode)
		if e.TrackingID != "" {
			if e.DetailCode != "" {
				b.WriteString(", ")
			}
			b.WriteString("trackingId ")
			b.WriteString(e.TrackingID)
		}
		b.WriteString(")")
	}
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, "; "))
	}
	return b.String()
}

// Is lets errors.Is match the sentinel errors against ISC's status codes.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// temporary reports whether trying again may succeed.
func (e *APIError) temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= http.StatusInternalServerError
}

// maxErrorBody bounds what is read of an error answer: enough for any
// ErrorResponseDto, little enough that a misbehaving proxy cannot flood memory.
const maxErrorBody = 64 << 10

// newAPIError decodes an error body: ErrorResponseDto for most codes,
// {"error": ...} for 401 and {"message": ...} for 429, or plain text from a proxy.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var dto struct {
		DetailCode string `json:"detailCode"`
		TrackingID string `json:"trackingId"`
		Messages   []struct {
			Text string `json:"text"`
		} `json:"messages"`
		Causes []struct {
			Text string `json:"text"`
		} `json:"causes"`
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
		Message          string `json:"message"`
	}
	if json.Unmarshal(body, &dto) != nil {
		if text := strings.TrimSpace(string(body)); text != "" {
			e.Messages = []string{truncate(text, 200)}
		}
		return e
	}
	e.DetailCode, e.TrackingID = dto.DetailCode, dto.TrackingID
	for _, m := range append(dto.Messages, dto.Causes...) {
		if m.Text != "" {
			e.Messages = append(e.Messages, m.Text)
		}
	}
	if s, ok := dto.Error.(string); ok && s != "" {
		e.Messages = append(e.Messages, s)
	}
	for _, s := range []string{dto.ErrorDescription, strings.TrimSpace(dto.Message)} {
		if s != "" {
			e.Messages = append(e.Messages, s)
		}
	}
	return e
}

// redact replaces every secret in what the error says: a token endpoint or a
// proxy that echoes the request in its error answer must not put the client
// secret (or a token) into a log line. The URL-encoded forms are replaced
// too, since the secret travels in a form body.
func (e *APIError) redact(secrets ...string) {
	var pairs []string
	for _, s := range secrets {
		if len(s) < 4 {
			continue // not a secret anyone could recognise; replacing it would mangle the text
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			pairs = append(pairs, form, "[REDACTED]")
		}
	}
	if len(pairs) == 0 {
		return
	}
	r := strings.NewReplacer(pairs...)
	e.DetailCode, e.TrackingID = r.Replace(e.DetailCode), r.Replace(e.TrackingID)
	for i, m := range e.Messages {
		e.Messages[i] = r.Replace(m)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
