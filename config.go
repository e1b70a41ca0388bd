package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// settings are the flags that configure the ISC connection and the counting.
type settings struct {
	url             string
	clientID        string
	secretFile      string
	tokenURL        string
	activitiesPath  string
	requestsPerSec  float64
	timeout         time.Duration
	lookback        time.Duration
	refreshInterval time.Duration
	pageSize        int
	maxTypes        int
	maxSources      int
	timeoutOffset   time.Duration
	demo            bool
}

// secretEnv is the variable SailPoint's SDKs and CLI read the secret from.
const secretEnv = "SAIL_CLIENT_SECRET"

// check returns the first problem with s as one sentence saying what to set.
func (s *settings) check() error {
	switch {
	case s.requestsPerSec <= 0:
		return errors.New("--isc.requests-per-second must be above 0")
	case s.timeout <= 0:
		return errors.New("--isc.timeout must be above 0")
	case s.lookback <= 0:
		return errors.New("--activities.lookback must be above 0, e.g. 24h")
	case s.refreshInterval < 0:
		return errors.New("--activities.refresh-interval must be 0 (refresh on scrape) or a duration such as 1m")
	case s.pageSize < 1 || s.pageSize > client.MaxPageSize:
		return fmt.Errorf("--activities.page-size must be between 1 and %d", client.MaxPageSize)
	case s.maxTypes < 1 || s.maxSources < 1:
		return errors.New("--activities.max-types and --activities.max-sources must be at least 1")
	case s.timeoutOffset < 0:
		return errors.New("--activities.scrape-timeout-offset must not be negative")
	}
	if s.demo {
		if s.url != "" || s.clientID != "" || s.secretFile != "" || s.tokenURL != "" || os.Getenv(secretEnv) != "" {
			return errors.New("--demo runs a simulated tenant: unset --isc.url, --isc.client-id, --isc.client-secret-file, --isc.token-url and SAIL_BASE_URL, SAIL_CLIENT_ID, SAIL_CLIENT_SECRET, or drop --demo")
		}
		return nil
	}
	if s.url == "" {
		return errors.New("set --isc.url or SAIL_BASE_URL to your tenant's API URL, e.g. https://acme.api.identitynow.com, or run with --demo")
	}
	if err := checkURL("--isc.url", s.url); err != nil {
		return err
	}
	if s.tokenURL != "" {
		if err := checkURL("--isc.token-url", s.tokenURL); err != nil {
			return err
		}
	}
	if s.clientID == "" {
		return errors.New("set --isc.client-id or SAIL_CLIENT_ID to the client id of a personal access token or API client")
	}
	return nil
}

// checkURL refuses anything but https, except on loopback where a test or a
// local proxy may speak plain http: a bearer token must not cross a network
// in clear text.
func checkURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL such as https://acme.api.identitynow.com", flag, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s uses plain http to %s: use https (plain http is only accepted on loopback)", flag, u.Hostname())
	}
	return fmt.Errorf("%s %q must start with https://", flag, raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientSecret reads the secret from the file, else from SAIL_CLIENT_SECRET.
// It is never a flag value, so it shows in no process list.
func (s *settings) clientSecret() (string, error) {
	env := os.Getenv(secretEnv)
	if s.secretFile != "" {
		if env != "" {
			return "", fmt.Errorf("set either --isc.client-secret-file or %s, not both", secretEnv)
		}
		b, err := os.ReadFile(s.secretFile)
		if err != nil {
			return "", fmt.Errorf("reading --isc.client-secret-file: %w", err)
		}
		secret := strings.TrimSpace(string(b))
		if secret == "" {
			return "", fmt.Errorf("--isc.client-secret-file %s is empty", s.secretFile)
		}
		return secret, nil
	}
	if env == "" {
		return "", fmt.Errorf("set %s or --isc.client-secret-file to the client secret of the token", secretEnv)
	}
	return env, nil
}
