package faultsuite

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// stallProxy forwards TCP connections to DynamoDB and can make them go half-open, which
// neither faultproxy (Cut resets connections) nor SIGSTOP (everything resumes on SIGCONT)
// does. While stalled, a connection on which a Query request is sent (the targets lookups)
// freezes before the request is forwarded: from then on its bytes are read and dropped,
// nothing is forwarded and nothing is reset — what a connection behind a dropped NAT entry
// looks like. Unstall lets new requests through again; frozen connections stay frozen.
type stallProxy struct {
	target  string
	ln      net.Listener
	stalled atomic.Bool
	frozen  atomic.Int64 // connections frozen so far

	mu    sync.Mutex
	conns map[*stalledConn]struct{}
	wg    sync.WaitGroup
}

// stalledRequest marks the requests a stall catches: DynamoDB Query.
var stalledRequest = []byte("DynamoDB_20120810.Query")

type stalledConn struct {
	client, upstream net.Conn
	frozen           atomic.Bool
}

func startStallProxy(target string) (*stallProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &stallProxy{target: target, ln: ln, conns: map[*stalledConn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// URL is the proxy's http:// address.
func (p *stallProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Stall freezes the connections that carry a Query from now on.
func (p *stallProxy) Stall() { p.stalled.Store(true) }

// Unstall forwards every request again; the frozen connections stay frozen.
func (p *stallProxy) Unstall() { p.stalled.Store(false) }

// Close stops the proxy and closes every connection.
func (p *stallProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.client.Close()
		if c.upstream != nil {
			_ = c.upstream.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *stallProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

func (p *stallProxy) serve(client net.Conn) {
	c := &stalledConn{client: client}
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		_ = client.Close()
		if c.upstream != nil {
			_ = c.upstream.Close()
		}
	}()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	c.upstream = upstream
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pump(c, upstream, client, true); done <- struct{}{} }()
	go func() { p.pump(c, client, upstream, false); done <- struct{}{} }()
	<-done
	if c.frozen.Load() {
		// The target may close its side (an idle timeout): a frozen connection still
		// tells the client nothing.
		_, _ = io.Copy(io.Discard, client)
	}
}

// pump copies src to dst until either fails, dropping what it reads once c is frozen. On the
// requests side, a Query sent while the proxy is stalled freezes c.
func (p *stallProxy) pump(c *stalledConn, dst, src net.Conn, requests bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if requests && n > 0 && p.stalled.Load() && bytes.Contains(buf[:n], stalledRequest) && !c.frozen.Swap(true) {
			p.frozen.Add(1)
		}
		if n > 0 && !c.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
