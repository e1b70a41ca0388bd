package e2e

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// How faultProxy treats connections.
const (
	modePass      = "pass"      // forwards both ways
	modeRefuse    = "refuse"    // nothing listens: connection refused
	modeReset     = "reset"     // accepts, then resets the connection
	modeBlackhole = "blackhole" // SYNs are never answered
	modeHold      = "hold"      // accepts and reads, never answers
	modeTrickle   = "trickle"   // forwards the answer one byte a second
)

// faultProxy stands between the exporter and the simulated tenant on
// loopback and can fail the ways a network and a server fail. Switching
// mode drops every connection it holds, as a failing load balancer would,
// so that no keep-alive connection outlives the switch.
type faultProxy struct {
	t        *testing.T
	addr     string // where it listens
	upstream string

	mu     sync.Mutex
	mode   string
	lis    net.Listener
	bhFD   int      // the black hole's listening socket, or -1
	bhFill net.Conn // the connection that fills its accept queue, if not the exporter's
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	lis, err := listenOutsideEphemeral()
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, addr: lis.Addr().String(), upstream: upstream, mode: modePass, bhFD: -1, conns: map[net.Conn]struct{}{}}
	p.serve(lis)
	t.Cleanup(func() {
		p.set(modeRefuse)
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) serve(lis net.Listener) {
	p.lis = lis
	p.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			mode := p.mode
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() {
				defer p.forget(c)
				p.handle(c, mode)
			})
		}
	})
}

func (p *faultProxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *faultProxy) handle(c net.Conn, mode string) {
	switch mode {
	case modeReset:
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	case modeHold:
		_, _ = io.Copy(io.Discard, c)
	case modePass, modeTrickle:
		up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[up] = struct{}{}
		p.mu.Unlock()
		defer p.forget(up)
		go func() { _, _ = io.Copy(up, c) }()
		if mode == modePass {
			_, _ = io.Copy(c, up)
			return
		}
		b := make([]byte, 1)
		for {
			if _, err := up.Read(b); err != nil {
				return
			}
			if _, err := c.Write(b); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}
}

// set switches the mode, dropping every connection.
func (p *faultProxy) set(mode string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lis != nil {
		_ = p.lis.Close()
		p.lis = nil
	}
	if p.bhFD >= 0 {
		_ = syscall.Close(p.bhFD)
		if p.bhFill != nil {
			_ = p.bhFill.Close()
		}
		p.bhFD, p.bhFill = -1, nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mode = mode
	switch mode {
	case modeRefuse:
	case modeBlackhole:
		if err := p.blackhole(); err != nil {
			p.t.Errorf("black hole: %v", err)
		}
	default:
		var lis net.Listener
		var err error
		for range 50 { // the port may take a moment to be free again
			// Its port is outside the ephemeral range, so no other
			// test's outgoing connection can have taken it meanwhile.
			if lis, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			p.t.Errorf("listening again on %s: %v", p.addr, err)
			return
		}
		p.serve(lis) // its goroutine takes the lock once set returns
	}
}

// blackhole listens with an accept queue of one and fills it: Linux then
// drops every further SYN, so a client's connect hangs as against a host
// that is gone.
func (p *faultProxy) blackhole() error {
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil || host != "127.0.0.1" {
		return fmt.Errorf("address %s: %w", p.addr, err)
	}
	var n int
	if _, err := fmt.Sscan(port, &n); err != nil {
		return err
	}
	// Close-on-exec from its creation: an exporter that another test starts
	// meanwhile must not inherit the listening socket, which would keep
	// the port taken after the proxy closes it (CI failed so: "bind:
	// address already in use" as the black hole ended).
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	for range 50 {
		if err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: n, Addr: [4]byte{127, 0, 0, 1}}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		_ = syscall.Close(fd)
		return err
	}
	if err := syscall.Listen(fd, 0); err != nil {
		_ = syscall.Close(fd)
		return err
	}
	// The exporter may dial at this very moment and take the one place in
	// the queue first; then the queue is as full as the fill would make it.
	fill, err := net.DialTimeout("tcp", p.addr, time.Second)
	var netErr net.Error
	queueTaken := errors.As(err, &netErr) && netErr.Timeout()
	if err != nil && !queueTaken {
		_ = syscall.Close(fd)
		return err
	}
	// Prove it: a further connection must not complete.
	if c, err := net.DialTimeout("tcp", p.addr, 300*time.Millisecond); err == nil {
		_ = c.Close()
		if fill != nil {
			_ = fill.Close()
		}
		_ = syscall.Close(fd)
		return errors.New("the accept queue did not fill: SYNs are still answered")
	}
	p.bhFD, p.bhFill = fd, fill
	return nil
}

// listenOutsideEphemeral listens on a free loopback port below the kernel's
// ephemeral range. The proxy closes its listener to refuse and listens on the
// same port again later; a port inside the range can meanwhile become the
// local port of any outgoing connection on the machine, one below it cannot.
func listenOutsideEphemeral() (net.Listener, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	const from = 10000
	if low <= from+1000 {
		return nil, fmt.Errorf("the ephemeral port range starts at %d: no room below it for the proxy", low)
	}
	var last error
	for range 200 {
		port := from + rand.IntN(low-from)
		lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return lis, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free port below the ephemeral range: %w", last)
}
