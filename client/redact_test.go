package client

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A token endpoint or a proxy that echoes the request in its error answer
// does not put the secret (or a token) into an error or a log line.
func TestEchoedSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	const secret = "Sup3r+s3cret/V4lue=="
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter, form string, auth string)
		list  bool // the echo comes from the list endpoint, not the token endpoint
	}{
		{"401 JSON", func(w http.ResponseWriter, form, _ string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad client in %s"}`, form)
		}, false},
		{"400 plain text", func(w http.ResponseWriter, form, _ string) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, "rejected request body: %s", form)
		}, false},
		{"500 with the decoded secret", func(w http.ResponseWriter, form, _ string) {
			v, _ := url.ParseQuery(form)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprintf(w, `{"detailCode":"500.0 Internal Fault","messages":[{"text":"client_secret=%s"}]}`, v.Get("client_secret"))
		}, false},
		{"list 500 echoing the bearer token", func(w http.ResponseWriter, _, auth string) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprintf(w, "upstream failed for %s", auth)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.URL.Path == "/oauth/token" && !tt.list {
					tt.serve(w, string(body), "")
					return
				}
				if r.URL.Path == "/oauth/token" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = fmt.Fprint(w, `{"access_token":"tok-`+secret+`","token_type":"bearer","expires_in":749}`)
					return
				}
				tt.serve(w, "", r.Header.Get("Authorization"))
			}))
			defer srv.Close()
			var logs bytes.Buffer
			c, err := New(Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: secret, MaxRetries: 1,
				MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			c.sleep = (&fakeSleeper{}).sleep
			err = c.Scan(t.Context(), Cursor{Modified: time.Now()}, func(Page) error { return nil })
			if err == nil {
				t.Fatal("the scan should fail")
			}
			all := err.Error() + logs.String()
			for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), "tok-" + secret} {
				if strings.Contains(all, form) {
					t.Fatalf("%q leaked:\n%s", form, all)
				}
			}
			if !strings.Contains(all, "[REDACTED]") {
				t.Fatalf("the echo should show as redacted:\n%s", all)
			}
		})
	}
}
