// Package delayproxy is a TCP proxy on loopback that delays each direction
// of every connection by a fixed one-way delay, for benchmarks that need a
// round-trip time the loopback interface does not have (this kernel has no
// netem).
//
// The delay is added without limiting bandwidth: a reader stamps every
// chunk it reads with the time it is due (arrival plus the delay) and hands
// it to a writer, which releases the chunks in order once they are due.
// A stream of N chunks therefore takes the delay plus the time it takes to
// send them, not N times the delay as a sleep after every read would.
//
// End of stream travels with the same delay: when one side half-closes,
// the other side sees the half-close a delay later; a connection ends when
// both directions have ended, or at once when a write fails.
package delayproxy

import (
	"fmt"
	"net"
	"sync"
	"time"
)

const (
	// chunkSize is the read buffer of each direction. 64 KiB per read keeps
	// the per-chunk overhead (a channel send, maybe a timer) far below the
	// cost of moving the bytes.
	chunkSize = 64 << 10
	// maxChunksInFlight bounds the memory of one direction (4,096 × 64 KiB
	// = 256 MiB at worst): enough for 10 GB/s × 25 ms, after which the
	// reader waits and TCP flow control slows the sender, as a real link's
	// buffers would.
	maxChunksInFlight = 4096
	// dialTimeout bounds the connection to the target.
	dialTimeout = 10 * time.Second
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// Proxy accepts connections on 127.0.0.1 and forwards each to its target
// with the one-way delay in both directions. Close stops it.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup // the accept loop and every connection's goroutines
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// to target ("host:port") with oneWay added to each direction: a request
// and its answer take 2×oneWay longer than without the proxy.
func Start(target string, oneWay time.Duration) (*Proxy, error) {
	if oneWay < 0 {
		return nil, fmt.Errorf("delayproxy: negative delay %v", oneWay)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("delayproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, delay: oneWay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the "127.0.0.1:port" that clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port returns the port of Addr.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Delay returns the one-way delay.
func (p *Proxy) Delay() time.Duration { return p.delay }

// Close stops accepting, cuts every open connection and waits until all of
// the proxy's goroutines have ended (at most about one delay, for writers
// that sleep until a chunk is due). It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// track registers c for Close; it reports false (and closes c) once the
// proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed (or a listener that cannot accept any more)
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		return // the client sees the connection close at once
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)

	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pipe(server, client) }()
	go func() { defer both.Done(); p.pipe(client, server) }()
	both.Wait()
}

// chunk is data read at some instant, to be written when due; an empty
// chunk with eof set carries the end of the stream.
type chunk struct {
	buf *[]byte
	n   int
	due time.Time
	eof bool
}

// pipe copies src to dst, every chunk delayed by p.delay after it was
// read. It returns when src has ended and everything read was written (or
// a write failed).
func (p *Proxy) pipe(dst, src net.Conn) {
	queue := make(chan chunk, maxChunksInFlight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		p.release(dst, src, queue)
	}()
	for {
		bp := bufPool.Get().(*[]byte)
		n, err := src.Read(*bp)
		now := time.Now()
		if n > 0 {
			queue <- chunk{buf: bp, n: n, due: now.Add(p.delay)}
		} else {
			bufPool.Put(bp)
		}
		if err != nil {
			// EOF, a reset, or our own Close: the other side learns of it
			// after the same delay as the data before it.
			queue <- chunk{due: now.Add(p.delay), eof: true}
			close(queue)
			break
		}
	}
	<-writerDone
}

// release writes each queued chunk to dst when it is due. On a write
// failure it closes both connections, so that the reader of src and the
// opposite direction stop too, and drops the rest of the queue.
func (p *Proxy) release(dst, src net.Conn, queue <-chan chunk) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	failed := false
	for c := range queue {
		if !failed {
			if wait := time.Until(c.due); wait > 0 {
				timer.Reset(wait)
				<-timer.C
			}
			switch {
			case c.eof:
				if tc, ok := dst.(*net.TCPConn); ok {
					if tc.CloseWrite() != nil {
						dst.Close()
					}
				} else {
					dst.Close()
				}
			default:
				if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
					failed = true
					dst.Close()
					src.Close()
				}
			}
		}
		if c.buf != nil {
			bufPool.Put(c.buf)
		}
	}
}
