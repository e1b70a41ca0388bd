package client

import (
	"errors"
	"net/http"
)

// Kinds of failure, by the advice a log line gives for each (FailureKind).
const (
	// FailCredentials: ISC refused the credentials or the token, even a
	// fresh one (a wrong secret, a revoked token).
	FailCredentials = "credentials"
	// FailForbidden: ISC accepted the token but refused the request (HTTP
	// 403): a scope or a user level is missing.
	FailForbidden = "forbidden"
	// FailNotFound: ISC has no such API on this tenant (HTTP 404).
	FailNotFound = "not found"
	// FailBadRequest: ISC refused the request itself (HTTP 400); its
	// message says why.
	FailBadRequest = "bad request"
	// FailOther: an outage, a timeout, a malformed answer: trying again is
	// the remedy.
	FailOther = "other"
)

// FailureKind says which kind of failure err is, for the advice to give.
// A refusal of the credentials comes first: the token endpoint answers a
// wrong secret with HTTP 400, which is not a bad request of the API's.
func FailureKind(err error) string {
	var api *APIError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return FailCredentials
	case errors.Is(err, ErrForbidden):
		return FailForbidden
	case errors.Is(err, ErrNotFound):
		return FailNotFound
	case errors.As(err, &api) && api.StatusCode == http.StatusBadRequest:
		return FailBadRequest
	}
	return FailOther
}
