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
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/failure"
)

// trickle sends one byte every 50 ms until the test ends: it never goes
// silent, so the IO timeout alone would wait for ever.
func trickle(w io.Writer, done <-chan struct{}) {
	for sleep(50*time.Millisecond, done) {
		if _, err := w.Write([]byte("x")); err != nil {
			return
		}
	}
}

// readUntilError reads until a Read fails and returns that error and the
// bytes read.
func readUntilError(c *Conn) (int, error) {
	total := 0
	buf := make([]byte, 64)
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
// minimum rate ends the read.
func TestTrickleFails(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) { trickle(c, done) })
	c := dialPlain(t, srv.addr, 400*time.Millisecond)
	n, err := readUntilError(c)
	wantTooSlow(t, err, srv.addr)
	t.Logf("%d bytes, then: %v", n, err)
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
	c, err := Dial(t.Context(), srv.addr, Security{CAFile: cert.caFile}, Timeouts{IO: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = readUntilError(c)
	wantTooSlow(t, err, srv.addr)
}

// A command that takes the server long (a big SEARCH) is silent, or sends a
// short progress line now and then: pauses longer than the trickle gap are
// silence, which only the IO timeout bounds, however few bytes they bring.
func TestProgressLinesAreNotTrickle(t *testing.T) {
	const lines = 4
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		for i := range lines {
			if !sleep(700*time.Millisecond, done) {
				return
			}
			fmt.Fprintf(c, "* OK Searched %d%% of the mailbox\r\n", 25*i)
		}
		io.WriteString(c, "A1 OK Search completed\r\n")
		<-done
	})
	// Gap 500 ms: each progress line follows 700 ms of silence, within the
	// IO timeout. Four of them take far longer than the 1 s window, with
	// 140 bytes.
	c := dialPlain(t, srv.addr, time.Second)
	br := bufio.NewReader(c)
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
			if err != nil || !sleep(100*time.Millisecond, done) {
				return
			}
			io.WriteString(c, "+OK "+line)
		}
	})
	// 10 replies of 100 ms waiting each: a second in all, with 130 bytes,
	// against a window of 400 ms.
	c := dialPlain(t, srv.addr, 400*time.Millisecond)
	br := bufio.NewReader(c)
	for i := range 10 {
		fmt.Fprintf(c, "NOOP %d\r\n", i)
		if got, want := readLine(t, br), fmt.Sprintf("+OK NOOP %d\r\n", i); got != want {
			t.Fatalf("reply %q, want %q", got, want)
		}
	}
}

// Time the client spends elsewhere (writing to disk, an MDA) is not the
// server's: only the waiting in Read counts.
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
	c := dialPlain(t, srv.addr, 300*time.Millisecond)
	c.SetMinRate(false)
	// 20 bytes at 50 ms each: a second, three windows.
	if _, err := io.ReadFull(c, make([]byte, 20)); err != nil {
		t.Fatalf("with the rate check off: %v", err)
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
