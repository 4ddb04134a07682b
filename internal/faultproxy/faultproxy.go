// Package faultproxy is a TCP proxy on loopback for fault tests. It passes
// bytes through, can go down (refuse service, as a stopped server does), can freeze (stop forwarding in both directions while every
// connection stays open, as a stalled network link or a partition does: the
// peers see no reset, only silence) and can cut (close every connection, as
// a dead link or a restarted load balancer does). Tests put it between one
// replica and NATS to partition that replica while it still reaches Graph.
package faultproxy

import (
	"fmt"
	"net"
	"sync"
)

// Proxy forwards connections accepted on Addr to a target address.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	frozen bool
	down   bool
	thawed chan struct{} // closed while not frozen; replaced on Freeze
	links  map[*link]struct{}
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// New listens on a free loopback port and forwards to target (host:port).
// Close it when done.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the proxy to %s: %w", target, err)
	}
	thawed := make(chan struct{})
	close(thawed)
	p := &Proxy{target: target, ln: ln, thawed: thawed, links: map[*link]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is Addr with a scheme, for clients that take a URL ("nats://...").
func (p *Proxy) URL(scheme string) string { return scheme + "://" + p.Addr() }

// Freeze stops forwarding: bytes already read wait, and the kernel buffers
// fill until the senders block. Connections stay open and new ones are
// accepted (they hang too). Freezing twice is one freeze.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thawed = make(chan struct{})
	}
}

// Thaw resumes forwarding where Freeze stopped it; nothing is lost.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// Cut closes every open connection, both sides; new connections are still
// accepted, so a client that reconnects gets through (frozen or not).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.cut()
	}
}

// Down cuts every link and closes each new connection at once, as a
// stopped server or a dead host whose port is refused looks to a client.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Cut()
}

// Up ends Down: new connections are forwarded again.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Links is how many client connections are open through the proxy.
func (p *Proxy) Links() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// link is one client connection and its connection to the target.
type link struct {
	client, server net.Conn
	once           sync.Once
	gone           chan struct{} // closed once the link is cut
}

func (l *link) cut() {
	l.once.Do(func() {
		_ = l.client.Close()
		_ = l.server.Close()
		close(l.gone)
	})
}

// Close stops accepting, cuts every connection and waits for the proxy's
// goroutines to end. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if p.isDown() {
			_ = client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close() // the target is down: the client sees a refused link
			continue
		}
		l := &link{client: client, server: server, gone: make(chan struct{})}
		if !p.track(l) {
			return
		}
		p.wg.Add(2)
		go p.pump(l, server, client)
		go p.pump(l, client, server)
	}
}

func (p *Proxy) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// track registers the link, or cuts it when the proxy is closing.
func (p *Proxy) track(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		l.cut()
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *Proxy) untrack(l *link) {
	l.cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}

// pump copies src to dst, holding each chunk while the proxy is frozen.
// When either side ends, the link is cut, so the peer of a closed or cut
// connection sees EOF or a reset at once.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	defer p.untrack(l)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitThawed(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, or the link was cut
		}
	}
}

// waitThawed blocks while frozen; false once the link is cut or the proxy
// is closing.
func (p *Proxy) waitThawed(l *link) bool {
	p.mu.Lock()
	thawed := p.thawed
	p.mu.Unlock()
	select {
	case <-thawed:
		return true
	case <-l.gone:
		return false
	case <-p.done:
		return false
	}
}
