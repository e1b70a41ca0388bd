// Package client talks to the account activities API of SailPoint Identity
// Security Cloud (ISC): OAuth2 client credentials, one rate limiter, retries,
// keyset paging and a decoder that reads only what the exporter needs.
// It knows nothing of Prometheus.
package client

import "time"

// Activity is the part of ISC's AccountActivity schema that the exporter uses.
// The API's strings are kept verbatim, unknown enum values included; a null or
// absent string is "" and a null or absent timestamp is the zero time.
type Activity struct {
	ID               string
	Type             string
	CompletionStatus string
	ExecutionStatus  string
	Created          time.Time
	Modified         time.Time
	Completed        time.Time
	// Errors and Warnings are the lengths of the errors and warnings arrays;
	// the messages themselves carry identities and hosts, so they are not kept.
	Errors   int
	Warnings int
	// Items is nil when the API sent null or no items.
	Items []Item
}

// Item is the part of an AccountActivityItem that the exporter uses.
type Item struct {
	ProvisioningStatus string
	Operation          string
	SourceID           string
}

// ISC's ExecutionStatus values that end an activity.
const (
	ExecutionCompleted  = "COMPLETED"
	ExecutionTerminated = "TERMINATED"
)

// Terminal reports whether the activity has ended: ISC set its completion
// time, or its execution status is COMPLETED or TERMINATED.
func (a *Activity) Terminal() bool {
	return !a.Completed.IsZero() || a.ExecutionStatus == ExecutionCompleted || a.ExecutionStatus == ExecutionTerminated
}

// CompletionTime is when a terminal activity ended: its completed time, or its
// last modification where ISC left completed null.
func (a *Activity) CompletionTime() time.Time {
	if !a.Completed.IsZero() {
		return a.Completed
	}
	return a.Modified
}
