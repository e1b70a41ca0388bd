package simtenant

import (
	"maps"
	"net/http"
	"time"
)

// SourceState is a source as the API shows it now: the fields an exporter
// reports.
type SourceState struct {
	ID, Name, Type string
	Connector      string // the connector script name, e.g. active-directory
	Authoritative  bool
	Healthy        bool
	Status         string    // one of the spec's SOURCE_STATE_* values
	Since          time.Time // the health check that found Status
	ClusterID      string    // "" for a source without a cluster
}

// Sources is the ground truth for listing sources (GET /v3/sources and
// the other families' paths), in its default order.
func (t *Tenant) Sources() []SourceState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SourceState, len(t.sources))
	for i, s := range t.sources {
		h := t.health.sources[i]
		out[i] = SourceState{ID: s.id, Name: s.name, Type: s.typ, Connector: s.connector, Authoritative: s.authoritative,
			Healthy: h.healthy, Status: h.status, Since: h.since}
		if s.cluster >= 0 {
			out[i].ClusterID = clustersCatalog[s.cluster].id
		}
	}
	return out
}

// ref is the spec's reference to another object.
type ref struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// nsTime renders like ISC's source health timestamps, with nanoseconds
// ("2021-09-28T15:48:29.380166630Z"), unlike the milliseconds elsewhere.
type nsTime time.Time

func (t nsTime) MarshalJSON() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(`"2006-01-02T15:04:05.000000000Z"`)), nil
}

// wireSource carries every property of the spec's Source, in the spec's order.
type wireSource struct {
	ID                        string         `json:"id"`
	Name                      string         `json:"name"`
	Description               string         `json:"description"`
	Owner                     *ref           `json:"owner"`
	Cluster                   *ref           `json:"cluster"`
	AccountCorrelationConfig  *ref           `json:"accountCorrelationConfig"`
	AccountCorrelationRule    *ref           `json:"accountCorrelationRule"`
	ManagerCorrelationMapping map[string]any `json:"managerCorrelationMapping"`
	ManagerCorrelationRule    *ref           `json:"managerCorrelationRule"`
	BeforeProvisioningRule    *ref           `json:"beforeProvisioningRule"`
	Schemas                   []ref          `json:"schemas"`
	PasswordPolicies          []ref          `json:"passwordPolicies"`
	Features                  []string       `json:"features"`
	Type                      string         `json:"type"`
	Connector                 string         `json:"connector"`
	ConnectorClass            string         `json:"connectorClass"`
	ConnectorAttributes       map[string]any `json:"connectorAttributes"`
	DeleteThreshold           int            `json:"deleteThreshold"`
	Authoritative             bool           `json:"authoritative"`
	ManagementWorkgroup       *ref           `json:"managementWorkgroup"`
	Healthy                   bool           `json:"healthy"`
	Status                    string         `json:"status"`
	Since                     nsTime         `json:"since"`
	ConnectorID               string         `json:"connectorId"`
	ConnectorName             string         `json:"connectorName"`
	ConnectionType            string         `json:"connectionType"`
	ConnectorImplementationID string         `json:"connectorImplementationId"`
	Created                   msTime         `json:"created"`
	Modified                  msTime         `json:"modified"`
	CredentialProviderEnabled bool           `json:"credentialProviderEnabled"`
	Category                  *string        `json:"category"`
}

// owners of the sources: fixed, like the sources.
var sourceOwners = []ref{
	{"IDENTITY", "2c9180858082150f0180893dbaf44201", "Ingrid Lindqvist"},
	{"IDENTITY", "2c918084808215e70180893e6d2e4f17", "Marcus Okafor"},
}

func mustTime(s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic("simtenant: catalog date " + s)
	}
	return v
}

// sourceView renders source i in its current state; callers hold t.mu.
func (t *Tenant) sourceView(i int) wireSource {
	s := &t.sources[i]
	h := t.health.sources[i]
	attrs := map[string]any{"healthCheckTimeout": 30, "cloudExternalId": hexOf(s.id + "/external")[:8], "deltaAggregationEnabled": i%2 == 0}
	maps.Copy(attrs, s.config)
	w := wireSource{
		ID: s.id, Name: s.name, Description: s.name + " (" + s.typ + ") for the Acme workforce",
		Owner:                    &sourceOwners[i%len(sourceOwners)],
		AccountCorrelationConfig: &ref{"ACCOUNT_CORRELATION_CONFIG", hexOf(s.id + "/correlation"), s.name + " [source-" + s.id[28:] + "] Account Correlation"},
		Schemas:                  []ref{{"CONNECTOR_SCHEMA", hexOf(s.id + "/account"), "account"}, {"CONNECTOR_SCHEMA", hexOf(s.id + "/group"), "group"}},
		Features:                 s.features,
		Type:                     s.typ, Connector: s.connector, ConnectorClass: s.class,
		ConnectorAttributes: attrs,
		DeleteThreshold:     10,
		Authoritative:       s.authoritative,
		Healthy:             h.healthy, Status: h.status, Since: nsTime(h.since),
		ConnectorID: s.connector, ConnectorName: s.connectorName, ConnectionType: "direct", ConnectorImplementationID: s.connector,
		Created: msTime(mustTime(s.created)), Modified: msTime(mustTime(s.modified)),
	}
	if s.cluster >= 0 {
		c := &clustersCatalog[s.cluster]
		w.Cluster = &ref{"CLUSTER", c.id, c.name}
	}
	if s.authoritative {
		w.ManagerCorrelationMapping = map[string]any{"accountAttributeName": "manager", "identityAttributeName": "employeeNumber"}
	}
	if s.connector == "active-directory" || s.connector == "sap" {
		w.ManagementWorkgroup = &ref{"GOVERNANCE_GROUP", hexOf(s.id + "/workgroup"), s.name + " Administrators"}
		w.PasswordPolicies = []ref{{"PASSWORD_POLICY", "2c9180855d191c59015d291ceb053980", "Corporate Password Policy"}}
	}
	if s.connector == "active-directory" {
		w.BeforeProvisioningRule = &ref{"RULE", hexOf(s.id + "/rule"), "AD Before Provisioning"}
		w.ManagerCorrelationRule = &ref{"RULE", hexOf(s.id + "/manager"), "AD Manager Correlation"}
	}
	return w
}

func refID(r *ref) value {
	if r == nil {
		return value{null: true}
	}
	return str(r.ID)
}

func refName(r *ref) value {
	if r == nil {
		return value{null: true}
	}
	return str(r.Name)
}

// sources is what the spec documents for listing sources.
var sources = collection[wireSource]{
	fields: map[string]field[wireSource]{
		"id":                     {kind: kString, ops: ops("eq in ge gt le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return str(s.ID) }},
		"name":                   {kind: kString, ops: ops("co eq in sw ge gt ne isnull"), sort: true, get: func(s *wireSource) value { return str(s.Name) }},
		"type":                   {kind: kString, ops: ops("eq in ge gt ne isnull sw"), sort: true, get: func(s *wireSource) value { return str(s.Type) }},
		"owner.id":               {kind: kString, ops: ops("eq in ge gt le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return refID(s.Owner) }},
		"owner.name":             {kind: kString, sort: true, get: func(s *wireSource) value { return refName(s.Owner) }},
		"features":               {kind: kList, ops: ops("ca co"), get: func(s *wireSource) value { return value{null: s.Features == nil, list: s.Features} }},
		"created":                {kind: kTime, ops: ops("eq ge gt in le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return msValue(time.Time(s.Created)) }},
		"modified":               {kind: kTime, ops: ops("eq ge gt in le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return msValue(time.Time(s.Modified)) }},
		"managementWorkgroup.id": {kind: kString, ops: ops("eq ge gt in le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return refID(s.ManagementWorkgroup) }},
		"description":            {kind: kString, ops: ops("eq sw"), sort: true, get: func(s *wireSource) value { return str(s.Description) }},
		"authoritative":          {kind: kBool, ops: ops("eq ne isnull"), sort: true, get: func(s *wireSource) value { return boolValue(s.Authoritative) }},
		"healthy":                {kind: kBool, ops: ops("isnull"), sort: true, get: func(s *wireSource) value { return boolValue(s.Healthy) }},
		"status":                 {kind: kString, ops: ops("eq in ge gt le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return str(s.Status) }},
		"connectionType":         {kind: kString, ops: ops("eq ge gt in le lt ne isnull sw"), sort: true, get: func(s *wireSource) value { return str(s.ConnectionType) }},
		"connectorName":          {kind: kString, ops: ops("eq ge gt in ne isnull sw"), sort: true, get: func(s *wireSource) value { return str(s.ConnectorName) }},
		"category":               {kind: kString, ops: ops("co eq ge gt in le lt ne sw"), get: func(s *wireSource) value { return strPtr(s.Category) }},

		"accountCorrelationConfig.id":   {kind: kString, sort: true, get: func(s *wireSource) value { return refID(s.AccountCorrelationConfig) }},
		"accountCorrelationConfig.name": {kind: kString, sort: true, get: func(s *wireSource) value { return refName(s.AccountCorrelationConfig) }},
		"managerCorrelationRule.type": {kind: kString, sort: true, get: func(s *wireSource) value {
			if s.ManagerCorrelationRule == nil {
				return value{null: true}
			}
			return str(s.ManagerCorrelationRule.Type)
		}},
		"managerCorrelationRule.id":   {kind: kString, sort: true, get: func(s *wireSource) value { return refID(s.ManagerCorrelationRule) }},
		"managerCorrelationRule.name": {kind: kString, sort: true, get: func(s *wireSource) value { return refName(s.ManagerCorrelationRule) }},
	},
	id: func(s *wireSource) string { return s.ID },
}

// listSources lists sources, by default in catalog order. for-subadmin and includeIDNSource are accepted and ignored: the
// tenant has no subadmins and does not simulate the IdentityNow source.
func (t *Tenant) listSources(r *http.Request) reply {
	q, bad := parseQuery(r.URL.Query(), &sources)
	if bad != nil {
		return *bad
	}
	all := t.sourceViews()
	page, total := selectPage(all, &q)
	return pageReply(jsonArray(page), total, q.count)
}

func (t *Tenant) sourceViews() []wireSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := make([]wireSource, len(t.sources))
	for i := range all {
		all[i] = t.sourceView(i)
	}
	return all
}

func (t *Tenant) getSource(id string) reply {
	for _, s := range t.sourceViews() {
		if s.ID == id {
			return jsonReply(http.StatusOK, s)
		}
	}
	return errorDTO(http.StatusNotFound, "")
}
