package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// The rate rule is checked against a clock that the test steps: each
// Read of the connection "waits" exactly step, whatever the machine's
// load, while the real IO timeout is long enough never to fire. So the
// tests say what the rule does, not how fast this machine is.

// rateTimeout is the IO timeout (and so the rate's window) of these tests.
const rateTimeout = 30 * time.Second

// stepClock is a clock that moves step forward each time it is read: a
// Read, which reads it before and after, waits step.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// withClock makes c's reads wait step each, by the returned clock.
func withClock(c *Conn, step time.Duration) *stepClock {
	clk := &stepClock{t: time.Unix(1e9, 0), step: step}
	c.raw.now = clk.now
	return clk
}

// trickle sends one byte every 10 ms until the test ends: it never goes
// silent, so the IO timeout alone would wait for ever.
func trickle(w io.Writer, done <-chan struct{}) {
	for sleep(10*time.Millisecond, done) {
		if _, err := w.Write([]byte("x")); err != nil {
			return
		}
	}
}

// readUntilError reads a byte at a time until a Read fails and returns
// that error and the bytes read.
func readUntilError(c *Conn) (int, error) {
	total := 0
	buf := make([]byte, 1)
	for {
		n, err := c.Read(buf)
		total += n
		if err != nil {
			return total, err
		}
	}
}

func wantTooSlow(t *testing.T, err error, addr string) {
	t.Helper()
	if !errors.Is(err, ErrTooSlow) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("error %v, want ErrTooSlow", err)
	}
	if failure.KindOf(err) != failure.Temporary {
		t.Errorf("kind %v, want temporary (exit 75)", failure.KindOf(err))
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "read from "+addr+": timeout: the server sent only ") ||
		!strings.Contains(msg, " bytes in ") || !strings.Contains(msg, "less than 1 KiB per timeout") {
		t.Errorf("error %q does not say how little came in how long", msg)
	}
}

// A server that trickles a byte at a time never goes silent, so only the
// minimum rate ends the read: 30 s of waiting (a read waits 1.5 s, less
// than the trickle gap) brought a few bytes.
func TestTrickleFails(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) { trickle(c, done) })
	c := dialPlain(t, srv.addr, rateTimeout)
	withClock(c, 1500*time.Millisecond)
	n, err := readUntilError(c)
	wantTooSlow(t, err, srv.addr)
	if n > 20 {
		t.Errorf("%d bytes read before the rule cut: it should take 20 reads of 1.5 s", n)
	}
	// The connection stays failed.
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrTooSlow) {
		t.Errorf("next read: %v", err)
	}
}

// Over TLS the rate counts the protocol's bytes: a byte per record is a
// trickle although each record brings thirty bytes on the wire.
func TestTrickleFailsOverTLS(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour))
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		tc := tls.Server(c, cert.serverConfig())
		if tc.Handshake() == nil {
			trickle(tc, done)
		}
	})
	c, err := Dial(t.Context(), srv.addr, Security{CAFile: cert.caFile}, Timeouts{IO: rateTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	withClock(c, 1500*time.Millisecond)
	_, err = readUntilError(c)
	wantTooSlow(t, err, srv.addr)
}

// A command that takes the server long (a big SEARCH) is silent, or sends a
// short progress line now and then: pauses longer than the trickle gap are
// silence, which only the IO timeout bounds, however few bytes they bring.
func TestProgressLinesAreNotTrickle(t *testing.T) {
	const lines = 40
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		for i := range lines {
			fmt.Fprintf(c, "* OK Searched %d%% of the mailbox\r\n", i)
			if !sleep(5*time.Millisecond, done) {
				return
			}
		}
		io.WriteString(c, "A1 OK Search completed\r\n")
		<-done
	})
	// Each read waits 3 s, longer than the 2 s gap: forty progress lines
	// take 120 s of waiting, four windows, with about 1.5 KB.
	c := dialPlain(t, srv.addr, rateTimeout)
	withClock(c, 3*time.Second)
	br := bufio.NewReaderSize(c, 16)
	for range lines {
		readLine(t, br)
	}
	if got := readLine(t, br); got != "A1 OK Search completed\r\n" {
		t.Errorf("last line %q", got)
	}
}

// Every command starts a new transfer: a server that answers many commands
// with short lines, each after a pause shorter than the trickle gap, is
// slow but not stuck.
func TestWriteStartsNewTransfer(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(c, "+OK "+line)
		}
	})
	// 40 replies of 1.5 s waiting each: a minute, two windows, with 500
	// bytes; each command starts the count anew.
	c := dialPlain(t, srv.addr, rateTimeout)
	withClock(c, 1500*time.Millisecond)
	br := bufio.NewReaderSize(c, 16)
	for i := range 40 {
		fmt.Fprintf(c, "NOOP %d\r\n", i)
		if got, want := readLine(t, br), fmt.Sprintf("+OK NOOP %d\r\n", i); got != want {
			t.Fatalf("reply %q, want %q", got, want)
		}
	}
}

// Time the client spends elsewhere (writing to disk, an MDA) is not the
// server's: only the waiting in Read counts. (Real time here: the bytes
// are there before each Read, so a Read waits for nothing.)
func TestTimeOutsideReadDoesNotCount(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		io.WriteString(c, strings.Repeat("x", 100))
		<-done
	})
	c := dialPlain(t, srv.addr, 200*time.Millisecond)
	buf := make([]byte, 10)
	for range 10 {
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // the client at work: 300 ms in all
	}
}

// SetMinRate(false) lets a connection wait on a server that is almost
// silent for good reason (IMAP IDLE).
func TestSetMinRateOff(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) { trickle(c, done) })
	c := dialPlain(t, srv.addr, rateTimeout)
	withClock(c, 1500*time.Millisecond)
	c.SetMinRate(false)
	// 60 bytes, a byte a read: 90 s of waiting, three windows.
	for range 60 {
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("with the rate check off: %v", err)
		}
	}
	c.SetMinRate(true)
	_, err := readUntilError(c)
	wantTooSlow(t, err, srv.addr)
}

// fakeDNS answers every query on 127.0.0.1 with NXDOMAIN, as a resolver
// does for a name that does not exist; it returns a resolver that asks it.
func fakeDNS(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			// The question ends after its name's labels and 4 bytes of
			// type and class.
			end := 12
			for end < len(q) && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > len(q) {
				continue
			}
			resp := append([]byte(nil), q[:end]...)
			resp[2] = 0x80 | (q[2] & 0x01) | 0x04 // QR, AA, RD copied
			resp[3] = 0x80 | 3                    // RA, RCODE 3: NXDOMAIN
			for i := 6; i < 12; i++ {
				resp[i] = 0 // no answer, authority or additional records
			}
			pc.WriteTo(resp, from)
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// A host name that DNS says does not exist is no temporary failure: exit
// 68, and the message names the host.
func TestDialUnknownHost(t *testing.T) {
	old := resolver
	resolver = fakeDNS(t)
	t.Cleanup(func() { resolver = old })
	_, err := Dial(t.Context(), "pop.example.invalid:995", Security{}, Timeouts{})
	if err == nil {
		t.Fatal("no error")
	}
	if want := `dial pop.example.invalid:995: no such host "pop.example.invalid": check the host setting`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if failure.KindOf(err) != failure.NoHost {
		t.Errorf("kind %v, want no-host", failure.KindOf(err))
	}
	var dns *net.DNSError
	if !errors.As(err, &dns) || !dns.IsNotFound {
		t.Errorf("error %#v does not carry the DNS error", err)
	}
}
