package simtenant

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cluster is a managed cluster (a group of virtual appliances). Like
// sources, clusters are fixed rather than seeded, and so are their fake
// secrets (see ClusterSecrets).
type cluster struct {
	id, name, typ, description, ccID string
	clientType                       *string // nil renders null, as ISC does for some types
	clients                          int
	created                          time.Time
}

var clustersCatalog = []cluster{
	{id: "2c9180877e1f3a58017e2b4a59b40c21", name: "Corporate VA Cluster", typ: "idn", clientType: Ptr("VA"), clients: 2, ccID: "1533",
		description: "Virtual appliances in the Ashburn data center", created: time.Date(2021, 11, 3, 14, 22, 9, 512e6, time.UTC)},
	{id: "2c918089813a2f7b01813c5d1e2a0f33", name: "Frankfurt VA Cluster", typ: "idn", clientType: Ptr("VA"), clients: 3, ccID: "1871",
		description: "Virtual appliances for the EU sites", created: time.Date(2022, 5, 17, 8, 1, 44, 73e6, time.UTC)},
	{id: "2c91808e8a4b1c2d018a4d6e7f801c44", name: "Identity AI Harvester", typ: "iai", clients: 1, ccID: "2044",
		description: "Harvester for Identity AI", created: time.Date(2023, 8, 4, 20, 48, 1, 865e6, time.UTC)},
}

// Cluster statuses as the spec spells them.
const (
	ClusterNormal  = "NORMAL"
	ClusterWarning = "WARNING"
)

// ClusterState is a managed cluster as the API shows it now: the fields an
// exporter reports.
type ClusterState struct {
	ID, Name, Type string
	Status         string // CONFIGURING, FAILED, NO_CLIENTS, NORMAL or WARNING
	Operational    bool
}

// Clusters is the ground truth for GET /v3/managed-clusters.
func (t *Tenant) Clusters() []ClusterState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ClusterState, len(clustersCatalog))
	for i, c := range clustersCatalog {
		h := t.health.clusters[i]
		out[i] = ClusterState{ID: c.id, Name: c.name, Type: c.typ, Status: h.status, Operational: h.operational}
	}
	return out
}

// clusterSecrets are one cluster's sensitive values: realistic in shape,
// fake, and distinctive enough that finding one in an exporter's output
// can only mean a leak.
type clusterSecrets struct {
	publicKey, certificate, thumbprint, keystore, redisHost, queue string
	clientIDs                                                      []string
}

func secretsOf(c *cluster) clusterSecrets {
	s := clusterSecrets{
		publicKey:   "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + fakeBase64(c.id+"/public", 300) + "IDAQAB",
		certificate: "MIIC+zCCAeOgAwIBAgIGAY" + fakeBase64(c.id+"/cert", 400),
		thumbprint:  fakeBase64(c.id+"/thumb", 27),
		keystore:    "/u3+7QAAAAIAAAABAAAAAQAvL3Byb3h5LWNsdXN0ZXIv" + fakeBase64(c.id+"/keystore", 600),
		redisHost:   "megapod-useast1-" + fakeBase64(c.id+"/redis", 10) + "-redis.cloud.sailpoint.com",
		queue:       "megapod-useast1-acme-" + c.typ + "-cluster-" + c.ccID + "-" + fakeBase64(c.id+"/queue", 8),
	}
	for i := range c.clients {
		s.clientIDs = append(s.clientIDs, hexOf(c.id+"/client/"+strconv.Itoa(i)))
	}
	return s
}

// ClusterSecrets lists the fake secrets the managed-clusters endpoints
// serve (public key and certificate, thumbprint, keystore, redis host,
// queue name, client ids), so a test can check that none of them ever
// appears in an exporter's output. Each is a distinctive string that
// appears verbatim both in the JSON and in the decoded value; for the PEM
// blocks it is their first line of base64.
func (t *Tenant) ClusterSecrets() []string {
	var out []string
	for i := range clustersCatalog {
		s := secretsOf(&clustersCatalog[i])
		out = append(out, s.publicKey[:64], s.certificate[:64], s.thumbprint, s.keystore, s.redisHost, s.queue)
		out = append(out, s.clientIDs...)
	}
	return out
}

// fakeBase64 expands seed into n characters that look like base64.
func fakeBase64(seed string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for block := 0; b.Len() < n; block++ {
		sum := sha256.Sum256([]byte(seed + "#" + strconv.Itoa(block)))
		for _, c := range sum {
			if b.Len() < n {
				b.WriteByte(alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return b.String()
}

func hexOf(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:16])
}

// wireCluster carries every property of the spec's ManagedCluster, in the
// spec's order.
type wireCluster struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Pod           string            `json:"pod"`
	Org           string            `json:"org"`
	Type          string            `json:"type"`
	Configuration map[string]string `json:"configuration"`
	KeyPair       struct {
		PublicKey            string `json:"publicKey"`
		PublicKeyThumbprint  string `json:"publicKeyThumbprint"`
		PublicKeyCertificate string `json:"publicKeyCertificate"`
	} `json:"keyPair"`
	Attributes struct {
		Queue struct {
			Name   string `json:"name"`
			Region string `json:"region"`
		} `json:"queue"`
		Keystore string `json:"keystore"`
	} `json:"attributes"`
	Description string `json:"description"`
	Redis       struct {
		RedisHost string `json:"redisHost"`
		RedisPort int    `json:"redisPort"`
	} `json:"redis"`
	ClientType       *string `json:"clientType"`
	CcgVersion       string  `json:"ccgVersion"`
	PinnedConfig     bool    `json:"pinnedConfig"`
	LogConfiguration *struct {
		ClientID        string            `json:"clientId"`
		DurationMinutes int               `json:"durationMinutes"`
		Expiration      msTime            `json:"expiration"`
		RootLevel       string            `json:"rootLevel"`
		LogLevels       map[string]string `json:"logLevels"`
	} `json:"logConfiguration"`
	Operational             bool   `json:"operational"`
	Status                  string `json:"status"`
	PublicKeyCertificate    string `json:"publicKeyCertificate"`
	PublicKeyThumbprint     string `json:"publicKeyThumbprint"`
	PublicKey               string `json:"publicKey"`
	EncryptionConfiguration struct {
		Format string `json:"format"`
	} `json:"encryptionConfiguration"`
	AlertKey          string   `json:"alertKey"`
	ClientIDs         []string `json:"clientIds"`
	ServiceCount      int      `json:"serviceCount"`
	CcID              string   `json:"ccId"`
	CreatedAt         msTime   `json:"createdAt"`
	UpdatedAt         msTime   `json:"updatedAt"`
	LastReleaseNotify *msTime  `json:"lastReleaseNotifiedAt"`
	UpdatePreferences struct {
		ProcessGroups     *string `json:"processGroups"`
		UpdateState       *string `json:"updateState"`
		NotificationEmail *string `json:"notificationEmail"`
	} `json:"updatePreferences"`
	CurrentInstalledReleaseVersion *string `json:"currentInstalledReleaseVersion"`
	UpdatePackage                  *string `json:"updatePackage"`
	IsOutOfDateNotifiedAt          *msTime `json:"isOutOfDateNotifiedAt"`
	ConsolidatedHealthStatus       *string `json:"consolidatedHealthIndicatorsStatus"`
}

func pem(kind, body string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + kind + "-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END " + kind + "-----")
	return b.String()
}

// clusterView renders cluster i in its current state; callers hold t.mu.
func (t *Tenant) clusterView(i int) wireCluster {
	c := &clustersCatalog[i]
	h := t.health.clusters[i]
	s := secretsOf(c)
	w := wireCluster{
		ID: c.id, Name: c.name, Pod: "megapod-useast1", Org: "acme", Type: c.typ,
		Configuration: map[string]string{"clusterExternalId": c.id, "clusterType": "sqsCluster", "gmtOffset": "-5"},
		Description:   c.description,
		ClientType:    c.clientType,
		CcgVersion:    "v01",
		Operational:   h.operational,
		Status:        h.status,
		PublicKey:     pem("PUBLIC KEY", s.publicKey), PublicKeyThumbprint: s.thumbprint, PublicKeyCertificate: pem("CERTIFICATE", s.certificate),
		ClientIDs:                      s.clientIDs,
		ServiceCount:                   2 * c.clients,
		CcID:                           c.ccID,
		CreatedAt:                      msTime(c.created),
		UpdatedAt:                      msTime(h.updated),
		CurrentInstalledReleaseVersion: Ptr("2025.11.4"),
	}
	w.KeyPair.PublicKey, w.KeyPair.PublicKeyThumbprint, w.KeyPair.PublicKeyCertificate = w.PublicKey, w.PublicKeyThumbprint, w.PublicKeyCertificate
	w.Attributes.Queue.Name, w.Attributes.Queue.Region, w.Attributes.Keystore = s.queue, "us-east-1", s.keystore
	w.Redis.RedisHost, w.Redis.RedisPort = s.redisHost, 6379
	w.EncryptionConfiguration.Format = "V3"
	w.UpdatePreferences.UpdateState = Ptr("AUTO")
	w.UpdatePreferences.NotificationEmail = Ptr("iam-team@acme.com")
	w.ConsolidatedHealthStatus = Ptr(ClusterNormal)
	if h.status == ClusterWarning {
		w.AlertKey = "LIMITED_RESOURCES"
		w.ConsolidatedHealthStatus = Ptr(ClusterWarning)
	}
	return w
}

// clusters is what the spec documents for listing managed clusters:
// filters operational, name, type and status with eq only, and no sorters.
var clusters = collection[wireCluster]{
	fields: map[string]field[wireCluster]{
		"operational": {kind: kBool, ops: ops("eq"), get: func(c *wireCluster) value { return boolValue(c.Operational) }},
		"name":        {kind: kString, ops: ops("eq"), get: func(c *wireCluster) value { return str(c.Name) }},
		"type":        {kind: kString, ops: ops("eq"), get: func(c *wireCluster) value { return str(c.Type) }},
		"status":      {kind: kString, ops: ops("eq"), get: func(c *wireCluster) value { return str(c.Status) }},
	},
	id: func(c *wireCluster) string { return c.ID },
}

func (t *Tenant) listClusters(r *http.Request) reply {
	q, bad := parseQuery(r.URL.Query(), &clusters)
	if bad != nil {
		return *bad
	}
	t.mu.Lock()
	all := make([]wireCluster, len(clustersCatalog))
	for i := range all {
		all[i] = t.clusterView(i)
	}
	t.mu.Unlock()
	page, total := selectPage(all, &q)
	return pageReply(jsonArray(page), total, q.count)
}

func (t *Tenant) getCluster(id string) reply {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range clustersCatalog {
		if clustersCatalog[i].id == id {
			return jsonReply(http.StatusOK, t.clusterView(i))
		}
	}
	return errorDTO(http.StatusNotFound, "")
}
