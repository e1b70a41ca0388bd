package client

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Family is a version of ISC's API: the per-service paths (v1), which
// SailPoint is moving every service to, or one of the yearly collections
// it versioned the API by before. Every call of the exporter follows one
// family.
type Family string

// The families the exporter can speak.
const (
	FamilyV1    Family = "v1" // per service: /account-activities/v1, /sources/v1, …
	FamilyV3    Family = "v3"
	FamilyV2024 Family = "v2024"
	FamilyV2025 Family = "v2025"
	FamilyV2026 Family = "v2026"
	FamilyBeta  Family = "beta"
)

// Families lists them, the default first.
var Families = []Family{FamilyV1, FamilyV3, FamilyV2024, FamilyV2025, FamilyV2026, FamilyBeta}

// DefaultFamily is the per-service paths: what SailPoint moves every
// service to, and where deprecated collections' users will have to go.
const DefaultFamily = FamilyV1

// fallbackFamily is the yearly collection a per-service path falls back
// to on a tenant that answers it 404 (one where it is not enabled yet): the
// newest whose every operation the exporter calls is stable.
const fallbackFamily = FamilyV2025

// Endpoint names, as passed to Config.Observe and Config.Deprecated.
const (
	EndpointToken           = "token"
	EndpointList            = "list" // account activities
	EndpointGet             = "get"  // one account activity
	EndpointSources         = "sources"
	EndpointManagedClusters = "managed-clusters"
	EndpointTaskStatus      = "task-status"
)

// service is one ISC service the exporter reads: its per-service path, its
// name in a yearly collection's paths, and the collections that have it, as
// SailPoint's documents say.
type service struct {
	perService string
	name       string
	in         []Family
	// experimental lists the families where SailPoint marks the operation
	// experimental: a request must carry X-SailPoint-Experimental: true.
	experimental []Family
}

var services = map[string]service{
	EndpointList: {perService: "/account-activities/v1", name: "account-activities",
		in: []Family{FamilyV3, FamilyV2024, FamilyV2025, FamilyV2026, FamilyBeta}},
	EndpointSources: {perService: "/sources/v1", name: "sources",
		in: []Family{FamilyV3, FamilyV2024, FamilyV2025, FamilyV2026, FamilyBeta}},
	EndpointManagedClusters: {perService: "/managed-clusters/v1", name: "managed-clusters",
		in: []Family{FamilyV3, FamilyV2024, FamilyV2025, FamilyV2026, FamilyBeta}},
	EndpointTaskStatus: {perService: "/task-status/v1", name: "task-status",
		in: []Family{FamilyV2025, FamilyV2026, FamilyBeta}, experimental: []Family{FamilyV2026}},
}

// ParseFamily checks a family's name.
func ParseFamily(s string) (Family, error) {
	f := Family(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Families, f) {
		return f, nil
	}
	names := make([]string, len(Families))
	for i, f := range Families {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown API version %q: one of %s", s, strings.Join(names, ", "))
}

// at is where the service is in family f: its path, the family that has it
// (f itself, or the nearest newer collection when f lacks it), and whether
// the operation is experimental there.
func (s service) at(f Family) (path string, in Family, experimental bool) {
	in = f
	if f != FamilyV1 && !slices.Contains(s.in, f) {
		// The nearest newer collection that has it: SailPoint adds
		// services to later collections, never to older ones.
		for _, g := range []Family{FamilyV2025, FamilyV2026, FamilyBeta} {
			if slices.Contains(s.in, g) {
				in = g
				break
			}
		}
	}
	if in == FamilyV1 {
		path = s.perService
	} else {
		path = "/" + string(in) + "/" + s.name
	}
	return path, in, slices.Contains(s.experimental, in)
}

// route is where the client sends one service's requests now. It starts at
// the configured family and moves to the fallback collection, once, if a
// per-service path answers 404.
type route struct {
	endpoint string
	svc      service

	mu           sync.Mutex
	path         string
	family       Family
	experimental bool
	override     bool // a path the user gave: never moved
	fellBack     bool
}

func newRoute(endpoint string, f Family, override string) *route {
	r := &route{endpoint: endpoint, svc: services[endpoint]}
	r.path, r.family, r.experimental = r.svc.at(f)
	if override != "" {
		r.path, r.override, r.experimental = override, true, false
	}
	return r
}

// current is the path and whether to send the experimental header.
func (r *route) current() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.path, r.experimental
}

// fallBack moves a per-service path that answered 404 to the fallback
// collection; it reports the old and new path, and false when the route
// cannot move (already a collection's path, a path the user gave, or moved
// once already).
func (r *route) fallBack(from string) (old, now string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.override || r.fellBack || r.family != FamilyV1 || r.path != from {
		return "", "", false
	}
	old = r.path
	r.path, r.family, r.experimental = r.svc.at(fallbackFamily)
	r.fellBack = true
	return old, r.path, true
}

// PathInUse is where the client sends one endpoint's requests.
type PathInUse struct {
	Endpoint string // list, get, sources, managed-clusters, task-status
	Path     string // e.g. /account-activities/v1, /account-activities/v1/{id}
}

// Paths reports the path in use of every endpoint, fallbacks included.
func (c *Client) Paths() []PathInUse {
	var out []PathInUse
	for _, e := range []string{EndpointList, EndpointSources, EndpointManagedClusters, EndpointTaskStatus} {
		p, _ := c.routes[e].current()
		out = append(out, PathInUse{Endpoint: e, Path: p})
		if e == EndpointList {
			out = append(out, PathInUse{Endpoint: EndpointGet, Path: p + "/{id}"})
		}
	}
	return out
}

// substitutions say, for the log at start, where the configured family
// lacks a service and another collection's path is used.
func substitutions(f Family) []string {
	var out []string
	for _, e := range []string{EndpointList, EndpointSources, EndpointManagedClusters, EndpointTaskStatus} {
		if path, in, _ := services[e].at(f); in != f {
			out = append(out, fmt.Sprintf("the %s collection has no %s: using %s", f, services[e].name, path))
		}
	}
	return out
}

// endpointURL is the URL of an endpoint's list, at the route's path now.
func (c *Client) endpointURL(endpoint string) *url.URL {
	path, _ := c.routes[endpoint].current()
	u := c.base.JoinPath(path)
	if !strings.HasPrefix(u.Path, "/") {
		// JoinPath on a URL without a path gives a relative one.
		u.Path, u.RawPath = "/"+u.Path, ""
	}
	return u
}

// routeOf is the route of an endpoint: a get goes where the list goes.
func (c *Client) routeOf(endpoint string) *route {
	if endpoint == EndpointGet {
		return c.routes[EndpointList]
	}
	return c.routes[endpoint]
}

// Deprecation is what a deprecated endpoint's answer says: ISC's
// X-Deprecated header, and the standard Deprecation and Sunset (RFC 8594)
// headers.
type Deprecation struct {
	Endpoint, Path                   string
	XDeprecated, Deprecation, Sunset string
}

// deprecationOf reads the deprecation headers of an answer; ok is false
// when it has none.
func deprecationOf(h http.Header) (Deprecation, bool) {
	d := Deprecation{XDeprecated: h.Get("X-Deprecated"), Deprecation: h.Get("Deprecation"), Sunset: h.Get("Sunset")}
	return d, d.XDeprecated != "" || d.Deprecation != "" || d.Sunset != ""
}
