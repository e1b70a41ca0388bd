package simtenant

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func postToken(t *testing.T, h *harness, query url.Values, form url.Values, basicID, basicSecret string) (int, map[string]any) {
	t.Helper()
	u := h.base + "/oauth/token"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token body %s: %v", b, err)
	}
	return resp.StatusCode, m
}

func TestTokenIssue(t *testing.T) {
	clients := map[string]string{"sim-client-id": "sim-client-secret", "id-a": "secret a&b", "id-b": "s2"}
	h := newHarness(t, Config{Clients: clients, TokenTTL: 90 * time.Second})
	grant := url.Values{"grant_type": {"client_credentials"}}
	cases := []struct {
		name       string
		query      url.Values
		form       url.Values
		user, pass string
		status     int
		errCode    string
	}{
		{"form", nil, url.Values{"grant_type": {"client_credentials"}, "client_id": {"id-a"}, "client_secret": {"secret a&b"}}, "", "", 200, ""},
		{"query", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id-b"}, "client_secret": {"s2"}}, nil, "", "", 200, ""},
		{"basic", nil, grant, "id-a", "secret a&b", 200, ""},
		{"basic grant in query", grant, nil, "id-b", "s2", 200, ""},
		{"wrong secret form", nil, url.Values{"grant_type": {"client_credentials"}, "client_id": {"id-a"}, "client_secret": {"nope"}}, "", "", 401, "invalid_client"},
		{"wrong secret query", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id-b"}, "client_secret": {"s"}}, nil, "", "", 401, "invalid_client"},
		{"wrong secret basic", nil, grant, "id-a", "x", 401, "invalid_client"},
		{"unknown client", nil, grant, "id-z", "s2", 401, "invalid_client"},
		{"no credentials", nil, grant, "", "", 401, "invalid_client"},
		{"other client's secret", nil, grant, "id-b", "secret a&b", 401, "invalid_client"},
		{"missing grant", nil, url.Values{"client_id": {"id-b"}, "client_secret": {"s2"}}, "", "", 400, "invalid_request"},
		{"password grant", nil, url.Values{"grant_type": {"password"}}, "id-b", "s2", 400, "unsupported_grant_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, m := postToken(t, h, c.query, c.form, c.user, c.pass)
			if status != c.status {
				t.Fatalf("status %d, want %d: %v", status, c.status, m)
			}
			if c.status != 200 {
				if m["error"] != c.errCode {
					t.Errorf("error %v, want %s", m["error"], c.errCode)
				}
				if c.errCode == "invalid_client" && m["error_description"] != "Bad client credentials" {
					t.Errorf("error_description %v", m["error_description"])
				}
				return
			}
			if tok, _ := m["access_token"].(string); len(tok) < 32 {
				t.Errorf("access_token %v", m["access_token"])
			}
			if m["token_type"] != "bearer" || m["expires_in"] != float64(90) || m["scope"] != "sp:scopes:all" || m["internal"] != true {
				t.Errorf("token fields %v", m)
			}
			if s, _ := m["tenant_id"].(string); s == "" {
				t.Errorf("tenant_id missing")
			}
			if s, _ := m["jti"].(string); s == "" {
				t.Errorf("jti missing")
			}
		})
	}
	if r := h.do("GET", "/oauth/token", nil, ""); r.status != 405 {
		t.Errorf("GET token: %d", r.status)
	}
}

func TestDefaultTokenTTL(t *testing.T) {
	h := newHarness(t, Config{})
	_, m := postToken(t, h, nil, url.Values{"grant_type": {"client_credentials"}, "client_id": {"sim-client-id"}, "client_secret": {"sim-client-secret"}}, "", "")
	if m["expires_in"] != float64(749) {
		t.Errorf("expires_in %v, want 749", m["expires_in"])
	}
}

func jwtError(t *testing.T, r response) string {
	t.Helper()
	if r.status != 401 {
		t.Fatalf("status %d, want 401: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	var m map[string]string
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m["error"], "JWT validation failed") {
		t.Errorf("error %q", m["error"])
	}
	return m["error"]
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, Config{TokenTTL: time.Minute})
	if r := h.get("/v3/account-activities", nil); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	h.clock.Advance(time.Minute - time.Millisecond)
	if r := h.get("/v3/account-activities", nil); r.status != 200 {
		t.Fatalf("token just before expiry: %d", r.status)
	}
	h.clock.Advance(time.Millisecond)
	if msg := jwtError(t, h.get("/v3/account-activities", nil)); msg != "JWT validation failed: JWT is expired" {
		t.Errorf("expired message %q", msg)
	}

	h.token = h.fetchToken("sim-client-id", "sim-client-secret")
	old := h.token
	if r := h.get("/v3/account-activities", nil); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	h.tenant.ExpireTokens()
	if msg := jwtError(t, h.get("/v3/account-activities", nil)); msg != "JWT validation failed: JWT is expired" {
		t.Errorf("after ExpireTokens: %q", msg)
	}
	h.token = h.fetchToken("sim-client-id", "sim-client-secret")
	if h.token == old {
		t.Errorf("token reused")
	}
	if r := h.get("/v3/account-activities", nil); r.status != 200 {
		t.Fatalf("token issued after ExpireTokens: %d", r.status)
	}

	jwtError(t, h.do("GET", "/v3/account-activities", nil, ""))
	jwtError(t, h.do("GET", "/v3/account-activities", nil, "not-a-token"))
	req := newRequest(t, http.MethodGet, h.base+"/v3/account-activities", "")
	req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	closeBody(resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic on API: %d", resp.StatusCode)
	}
}
