package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// serve starts the built exporter with args and returns its address once it
// listens; it is killed when the test ends.
func serve(ctx context.Context, t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	addr := freeAddr(ctx, t)
	cmd := exec.CommandContext(ctx, bin, append(args, "--web.listen-address="+addr)...)
	cmd.Env = env
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("exporter log:\n%s", tail([]byte(logs.String()), 6000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the exporter did not listen on %s", addr)
	return ""
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// selfSigned writes a certificate and key for 127.0.0.1 and the DNS names
// given, and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string, names ...string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sailpoint-exporter-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// --web.config.file with TLS and basic auth works end to end: https only,
// and /metrics only with the right credentials.
func TestWebConfigServesTLSWithBasicAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built exporter")
	}
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "web.yml")
	writeFile(t, config, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n", certFile, keyFile, hash))
	addr := serve(ctx, t, buildExporter(ctx, t), nil, "--demo", "--web.config.file="+config)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	get := func(scheme, user, pass string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, scheme, user, pass string
		want                     int
	}{
		{"no credentials", "https", "", "", http.StatusUnauthorized},
		{"wrong password", "https", "prometheus", "nope", http.StatusUnauthorized},
		{"unknown user", "https", "admin", "scrape-pass", http.StatusUnauthorized},
		{"plain http", "http", "prometheus", "scrape-pass", http.StatusBadRequest},
		{"right credentials", "https", "prometheus", "scrape-pass", http.StatusOK},
	} {
		code, body := get(tc.scheme, tc.user, tc.pass)
		if code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, code, tc.want, tail([]byte(body), 200))
		}
		if tc.want == http.StatusOK && !strings.Contains(body, "sailpoint_exporter_build_info") {
			t.Errorf("%s: no metrics in the answer", tc.name)
		}
	}
}

// Clients that send their request slowly cannot pin the exporter's
// connections: a few hundred of them are cut after the header timeout while
// scrapes go on being answered at once.
func TestSlowClientsCannotPinConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built exporter")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	addr := serve(ctx, t, buildExporter(ctx, t), nil, "--demo")
	const slow = 300
	conns := make([]net.Conn, 0, slow)
	for range slow {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Half a request header, and never the rest.
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range 10 {
		start := time.Now()
		body, err := httpGet(ctx, "http://"+addr+"/metrics")
		if err != nil || !strings.Contains(string(body), "sailpoint_exporter_build_info") {
			t.Fatalf("scrape %d with %d slow clients connected: %v", i, slow, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("scrape %d took %v with %d slow clients connected", i, d, slow)
		}
	}
	// The server gives up on each of them after its header timeout (10 s).
	var closed sync.WaitGroup
	cut := make(chan bool, slow)
	for _, c := range conns {
		closed.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err := bufio.NewReader(c).ReadByte()
			// EOF, a reset or a 408 answer: the server let go.
			cut <- err == nil || !isTimeout(err)
		})
	}
	closed.Wait()
	close(cut)
	n := 0
	for ok := range cut {
		if ok {
			n++
		}
	}
	if n != slow {
		t.Fatalf("the server let go of %d of %d slow connections within 30 s", n, slow)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	ok := errors.As(err, &ne)
	return ok && ne.Timeout()
}

// --web.max-requests bounds the scrapes served at once, including those that
// wait for a refresh from a slow ISC: the rest get 503 at once.
func TestMaxRequestsHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built exporter")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tenant := simtest.New(simtenant.Config{Clients: map[string]string{"limit-client": "limit-secret"}, RateLimit: -1})
	tenant.SeedHistory(50, time.Hour)
	url, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tenant.Close() }()
	addr := serve(ctx, t, buildExporter(ctx, t), []string{"SAIL_CLIENT_SECRET=limit-secret"},
		"--isc.url="+url, "--isc.client-id=limit-client", "--activities.refresh-interval=0", "--web.max-requests=3")
	if _, err := httpGet(ctx, "http://"+addr+"/metrics"); err != nil { // primes
		t.Fatal(err)
	}
	simtest.Faults(tenant).SlowNext(1, 3*time.Second)
	const scrapes = 12
	codes := make(chan int, scrapes)
	var wg sync.WaitGroup
	for range scrapes {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	byCode := map[int]int{}
	for c := range codes {
		byCode[c]++
	}
	if byCode[http.StatusOK] > 3 || byCode[http.StatusOK]+byCode[http.StatusServiceUnavailable] != scrapes {
		t.Fatalf("answers %v: want at most 3 served and the rest 503", byCode)
	}
	t.Logf("%d concurrent scrapes with --web.max-requests=3: %v", scrapes, byCode)
}
