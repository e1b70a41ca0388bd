package client

import (
	"context"
	"fmt"
	"net/http"
	"testing"
)

// Each failure is given the advice it needs; a wrong secret, which the
// token endpoint answers with HTTP 400 or 401, is a matter of credentials,
// not a bad request.
func TestFailureKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"token refused, 400", &TokenError{StatusCode: http.StatusBadRequest, Err: &APIError{StatusCode: http.StatusBadRequest, DetailCode: "invalid_client"}}, FailCredentials},
		{"token refused, 401", &TokenError{StatusCode: http.StatusUnauthorized, Err: &APIError{StatusCode: http.StatusUnauthorized}}, FailCredentials},
		{"token refused, 403", &TokenError{StatusCode: http.StatusForbidden, Err: &APIError{StatusCode: http.StatusForbidden}}, FailCredentials},
		{"token endpoint down", &TokenError{StatusCode: http.StatusServiceUnavailable, Err: &APIError{StatusCode: http.StatusServiceUnavailable}}, FailOther},
		{"token endpoint unreachable", &TokenError{Err: context.DeadlineExceeded}, FailOther},
		{"API 401", &APIError{StatusCode: http.StatusUnauthorized}, FailCredentials},
		{"API 403", fmt.Errorf("listing: %w", &APIError{StatusCode: http.StatusForbidden}), FailForbidden},
		{"API 404", fmt.Errorf("listing: %w", &APIError{StatusCode: http.StatusNotFound}), FailNotFound},
		{"API 400", fmt.Errorf("listing: %w", &APIError{StatusCode: http.StatusBadRequest, Messages: []string{"filter not allowed"}}), FailBadRequest},
		{"API 500", &APIError{StatusCode: http.StatusInternalServerError}, FailOther},
		{"rate limited", fmt.Errorf("%w after 5 tries", ErrRateLimited), FailOther},
		{"deadline", context.DeadlineExceeded, FailOther},
	}
	for _, tt := range tests {
		if got := FailureKind(tt.err); got != tt.want {
			t.Errorf("%s: FailureKind(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}
