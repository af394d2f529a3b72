package delayproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// startEcho runs a TCP echo server on loopback until the test ends.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string, d time.Duration) *Proxy {
	t.Helper()
	p, err := Start(target, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestRoundTripTakesAtLeastRTT checks that a request and its answer take
// at least twice the one-way delay. Only the lower bound is asserted: a
// busy machine may add any amount on top.
func TestRoundTripTakesAtLeastRTT(t *testing.T) {
	const oneWay = 25 * time.Millisecond
	p := startProxy(t, startEcho(t), oneWay)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for i := range 5 {
		start := time.Now()
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		if line != "ping\n" {
			t.Fatalf("echo %q, want %q", line, "ping\n")
		}
		if rtt < 2*oneWay {
			t.Errorf("round trip %d took %v, want at least %v", i, rtt, 2*oneWay)
		}
		t.Logf("round trip %d: %v", i, rtt)
	}
}

// TestStreamIsIntactAndNotSerialised sends 32 MiB through the proxy and
// back while reading the echo, and checks the bytes. The elapsed time is
// logged, not asserted: a proxy that slept after every 64 KiB read would
// need 2 × 512 × 25 ms ≈ 26 s, this one a fraction of a second.
func TestStreamIsIntactAndNotSerialised(t *testing.T) {
	const oneWay = 25 * time.Millisecond
	p := startProxy(t, startEcho(t), oneWay)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}

	data := make([]byte, 32<<20)
	rng := rand.NewPCG(1, 2)
	for i := 0; i+8 <= len(data); i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			data[i+k] = byte(v >> (8 * k))
		}
	}
	start := time.Now()
	writeErr := make(chan error, 1)
	go func() {
		// Writes of varied sizes, as a server's would be.
		var err error
		for off, n := 0, 0; off < len(data) && err == nil; off += n {
			n = min(len(data)-off, 1+int(rng.Uint64()%(48<<10)))
			_, err = c.Write(data[off : off+n])
		}
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		writeErr <- err
	}()
	h := sha256.New()
	got, err := io.Copy(h, c) // ends at the echoed half-close
	if err != nil {
		t.Fatal(err)
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if got != int64(len(data)) {
		t.Fatalf("echoed %d bytes, want %d", got, len(data))
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("echoed bytes differ from the bytes sent")
	}
	if elapsed < 2*oneWay {
		t.Errorf("the stream took %v, less than one round trip (%v)", elapsed, 2*oneWay)
	}
	t.Logf("32 MiB there and back through a %v RTT proxy in %v (%.0f MB/s)",
		2*oneWay, elapsed, float64(len(data))/elapsed.Seconds()/1e6)
}

// TestHalfCloseTravels checks that a client's half-close reaches the
// server, and the server's answer and close come back.
func TestHalfCloseTravels(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		req, err := io.ReadAll(c) // until the client's half-close
		if err == nil {
			_, err = c.Write(append([]byte("got "), req...))
		}
		served <- err
	}()
	p := startProxy(t, ln.Addr().String(), 5*time.Millisecond)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != "got hello" {
		t.Fatalf("reply %q, want %q", reply, "got hello")
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestCloseCutsConnections checks that Close returns with connections
// still open, and that their clients see the end.
func TestCloseCutsConnections(t *testing.T) {
	p, err := Start(startEcho(t), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Make sure every connection reached the target before closing.
	for _, c := range conns {
		if _, err := io.WriteString(c, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range conns {
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("read %d bytes after Close, want the end of the connection", n)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("the proxy still accepts after Close")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
