package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Scopes of the two small collections the exporter lists besides the
// activities, the same in every family.
const (
	// SourcesScope is the least scope the spec lists for listing sources;
	// sp:scopes:all includes it for an owner of a user level that may list
	// sources (ORG_ADMIN, SOURCE_ADMIN, SOURCE_SUBADMIN, ROLE_SUBADMIN).
	SourcesScope = "idn:sources:read"
	// ManagedClustersScope is the least scope the spec lists for listing
	// managed clusters, for user tokens only (a personal access token)
	// whose owner has the user level ORG_ADMIN.
	ManagedClustersScope = "idn:remote-client:read"
)

// Source is the part of ISC's Source schema that the exporter reports, as
// ISC said it: the strings verbatim, unknown status values included, a null
// or absent string "".
type Source struct {
	ID, Name  string
	Type      string // e.g. "Active Directory - Direct"
	Connector string // the connector script name, e.g. "active-directory"
	// Authoritative is whether an identity profile uses the source.
	Authoritative bool
	// Healthy is nil when ISC did not say.
	Healthy *bool
	Status  string // one of the spec's SOURCE_STATE_* values, or a newer one
	// Since is when ISC last checked the source's health; zero when ISC did
	// not say or said it in a form that is not a date-time.
	Since     time.Time
	ClusterID string // "" for a source without a cluster
}

// ManagedCluster is the part of ISC's ManagedCluster schema that the
// exporter reports. The schema also carries key pairs, certificates, queue
// and Redis settings: they are never decoded, so never kept.
type ManagedCluster struct {
	ID, Name string
	Type     string // idn, iai, spConnectCluster, …
	Status   string // CONFIGURING, FAILED, NO_CLIENTS, NORMAL, WARNING, or a newer one
	// Operational is nil when ISC did not say.
	Operational *bool
}

// wireSource and wireCluster name the only fields decoded; encoding/json
// skips every other one without keeping it.
type wireSource struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	Connector     string `json:"connector"`
	Authoritative bool   `json:"authoritative"`
	Healthy       *bool  `json:"healthy"`
	Status        string `json:"status"`
	Since         string `json:"since"`
	Cluster       *struct {
		ID string `json:"id"`
	} `json:"cluster"`
}

type wireCluster struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Status      string `json:"status"`
	Operational *bool  `json:"operational"`
}

// ListSources returns every source of the tenant, sorted by id.
func (c *Client) ListSources(ctx context.Context) ([]Source, error) {
	return listAll(ctx, c, EndpointSources, "id", "sources", func(w *wireSource) (Source, string) {
		s := Source{ID: w.ID, Name: w.Name, Type: w.Type, Connector: w.Connector, Authoritative: w.Authoritative,
			Healthy: w.Healthy, Status: w.Status}
		if w.Cluster != nil {
			s.ClusterID = w.Cluster.ID
		}
		// "2021-09-28T15:48:29.3801666300Z" in the spec's example: more
		// digits than RFC 3339 needs, which time.Parse accepts.
		if t, err := time.Parse(time.RFC3339Nano, w.Since); err == nil {
			s.Since = t
		}
		return s, s.ID
	})
}

// ListManagedClusters returns every managed cluster (group of virtual
// appliances) of the tenant, sorted by id.
func (c *Client) ListManagedClusters(ctx context.Context) ([]ManagedCluster, error) {
	// The spec documents no sorters for this path.
	return listAll(ctx, c, EndpointManagedClusters, "", "managed clusters", func(w *wireCluster) (ManagedCluster, string) {
		return ManagedCluster{ID: w.ID, Name: w.Name, Type: w.Type, Status: w.Status, Operational: w.Operational}, w.ID
	})
}

// Bounds of a listing: a collection this large is not one the exporter
// should report, and a misbehaving answer cannot hold the memory of more.
const (
	maxListPages    = 400      // 100,000 records at 250 a page
	maxListPageBody = 64 << 20 // bytes of one page
)

// listAll reads a small collection page by page, limit and offset, sorted by
// sorter where the spec allows one, until a page comes back short. Records
// are keyed by id: one delivered twice (a record created while paging shifts
// the others by one) is kept once, the later copy; records without an id are
// skipped. The result is sorted by id.
func listAll[W, T any](ctx context.Context, c *Client, endpoint, sorter, what string, convert func(*W) (T, string)) ([]T, error) {
	limit := c.cfg.PageSize
	var (
		out     []T
		index   = map[string]int{}
		noID    int
		wires   []W
		decoded int
	)
	for page := 0; ; page++ {
		if page == maxListPages {
			return nil, fmt.Errorf("list %s: more than %d pages of %d; ISC may ignore offset", what, maxListPages, limit)
		}
		offset := page * limit
		q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
		if sorter != "" {
			q.Set("sorters", sorter)
		}
		pu := c.endpointURL(endpoint)
		pu.RawQuery = q.Encode()
		err := c.call(ctx, endpoint, pu, func(body io.Reader, _ int64, _ http.Header) error {
			wires = wires[:0]
			return decodeArray(body, &wires)
		})
		if err != nil {
			path, _ := c.routes[endpoint].current()
			return nil, fmt.Errorf("list %s (%s) at offset %d: %w", what, path, offset, err)
		}
		dups := 0
		for i := range wires {
			v, id := convert(&wires[i])
			if id == "" {
				noID++
				continue
			}
			if j, dup := index[id]; dup {
				out[j] = v
				dups++
				continue
			}
			index[id] = len(out)
			out = append(out, v)
		}
		decoded += len(wires)
		if len(wires) < limit {
			break
		}
		if dups == len(wires) {
			return nil, fmt.Errorf("list %s: ISC answered offset %d with records already read; it may ignore offset", what, offset)
		}
	}
	c.unexpected(endpoint, UnexpectedMissingID, noID > 0, "ISC listed records without an id; they are not reported", "what", what, "records", noID, "of", decoded)
	keys := make([]string, 0, len(index))
	for id := range index {
		keys = append(keys, id)
	}
	slices.Sort(keys)
	sorted := make([]T, len(keys))
	for i, id := range keys {
		sorted[i] = out[index[id]]
	}
	return sorted, nil
}

// decodeArray decodes a JSON array one element at a time into *dst, so that
// memory follows the fields kept, not the size of the answer. Anything but
// one array of objects of the expected shape is an error; null too, which
// json.Unmarshal would take for an empty list: a listing that says nothing
// must not read as a tenant without sources. Otherwise it accepts exactly
// what json.Unmarshal of the whole page accepts, and decodes the same;
// FuzzDecodeArrayAgainstEncodingJSON holds it to that.
func decodeArray[W any](body io.Reader, dst *[]W) error {
	lr := &io.LimitedReader{R: body, N: maxListPageBody + 1}
	dec := json.NewDecoder(lr)
	fail := func(err error) error {
		if lr.N <= 0 {
			return fmt.Errorf("answer larger than %d bytes", maxListPageBody)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("malformed JSON at byte %d: %w", dec.InputOffset(), err)
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fail(fmt.Errorf("want a JSON array, got %v", tok))
	}
	var raw json.RawMessage
	for dec.More() {
		// Each element is decoded on its own, so encoding/json counts its
		// nesting from 0, not from the array's 1: an element as deep as the
		// limit would pass where a whole page's decoding fails.
		if err := dec.Decode(&raw); err != nil {
			return fail(err)
		}
		if nestedAsDeepAs(raw, maxDepth) {
			return fail(errors.New("exceeded max depth"))
		}
		var w W
		if err := json.Unmarshal(raw, &w); err != nil {
			return fail(err)
		}
		*dst = append(*dst, w)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return fail(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(errors.New("data after the array"))
	}
	return nil
}

// nestedAsDeepAs reports whether the well-formed JSON value raw nests
// objects and arrays depth deep.
func nestedAsDeepAs(raw []byte, depth int) bool {
	if len(raw) < 2*depth {
		return false // too short to open and close depth of them
	}
	d, inString := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if d++; d >= depth {
				return true
			}
		case c == ']' || c == '}':
			d--
		}
	}
	return false
}
