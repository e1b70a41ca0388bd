// Package client talks to the account activities API of SailPoint Identity
// Security Cloud (ISC): OAuth2 client credentials, one rate limiter, retries,
// keyset paging and a decoder that reads only what the exporter needs.
// It knows nothing of Prometheus.
package client

import "time"

// Activity is the part of ISC's AccountActivity schema that the exporter uses,
// as ISC said it: the strings verbatim, unknown enum values included; a null
// or absent string is "" and a null or absent timestamp is the zero time.
// What the values mean for counting is the collector's business.
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
