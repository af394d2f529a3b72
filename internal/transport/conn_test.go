package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// greetTLS is a POP3-like TLS server: handshake, greeting, then it echoes
// lines until the client goes.
func greetTLS(cfg *tls.Config) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, done <-chan struct{}) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		echo(tc)
	}
}

func echo(c io.ReadWriter) {
	if _, err := io.WriteString(c, "+OK ready\r\n"); err != nil {
		return
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return line
}

func TestDialTLS(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour))
	other := newTestCert(t, time.Now().Add(24*time.Hour))
	srv := serve(t, 0, greetTLS(cert.serverConfig()))
	fp := Fingerprint(cert.leaf)
	plainFP := strings.ToLower(strings.ReplaceAll(fp, ":", ""))

	tests := []struct {
		name    string
		sec     Security
		wantErr []string // substrings of the error; nil: success
		pinned  bool     // the error is a pin mismatch
	}{
		{name: "CA file", sec: Security{CAFile: cert.caFile}},
		{name: "CA file, name localhost", sec: Security{CAFile: cert.caFile, ServerName: "localhost"}},
		{name: "pinned, lower case without colons", sec: Security{Fingerprint: plainFP}},
		{name: "pinned, openssl style", sec: Security{Fingerprint: "SHA256 Fingerprint=" + fp}},
		{name: "pin accepts any name", sec: Security{Fingerprint: fp, ServerName: "imap.example.org"}},
		{name: "pin wins over a CA file", sec: Security{Fingerprint: fp, CAFile: other.caFile}},
		{
			name:    "unknown CA",
			sec:     Security{CAFile: other.caFile},
			wantErr: []string{"dial " + srv.addr + ": tls: certificate for 127.0.0.1 signed by unknown authority (SHA-256 fingerprint " + fp + "); set ca-file or fingerprint to trust it"},
		},
		{
			name:    "system roots",
			sec:     Security{},
			wantErr: []string{"tls: certificate for 127.0.0.1 ", "(SHA-256 fingerprint " + fp + "); set ca-file or fingerprint to trust it"},
		},
		{
			name:    "wrong name",
			sec:     Security{CAFile: cert.caFile, ServerName: "imap.example.org"},
			wantErr: []string{"certificate for imap.example.org is valid for localhost, 127.0.0.1, not imap.example.org", fp},
		},
		{
			name:    "wrong pin",
			sec:     Security{Fingerprint: Fingerprint(other.leaf)},
			wantErr: []string{"has SHA-256 fingerprint " + fp + ", not the pinned " + Fingerprint(other.leaf)},
			pinned:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(t.Context(), srv.addr, tt.sec, Timeouts{})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got := readLine(t, bufio.NewReader(c)); got != "+OK ready\r\n" {
					t.Errorf("greeting %q", got)
				}
				st, ok := c.TLSConnectionState()
				if !ok || st.Version < tls.VersionTLS12 || len(st.PeerCertificates) == 0 || Fingerprint(st.PeerCertificates[0]) != fp {
					t.Errorf("TLS state %v: %+v", ok, st)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if k := failure.KindOf(err); k != failure.Certificate {
				t.Errorf("kind %v, want certificate: a certificate problem is not temporary", k)
			}
			if !strings.Contains(err.Error(), "fingerprint") || (!tt.pinned && !strings.Contains(err.Error(), "ca-file")) {
				t.Errorf("error %q does not name the settings ca-file and fingerprint", err)
			}
			var ce *CertificateError
			if !errors.As(err, &ce) || ce.Fingerprint != fp || (ce.Pinned != "") != tt.pinned {
				t.Errorf("error %#v is not the right *CertificateError", err)
			}
		})
	}
}

func TestDialExpiredCertificate(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(-time.Hour))
	srv := serve(t, 0, greetTLS(cert.serverConfig()))
	_, err := Dial(t.Context(), srv.addr, Security{CAFile: cert.caFile}, Timeouts{})
	if err == nil || !strings.Contains(err.Error(), "has expired") || !strings.Contains(err.Error(), Fingerprint(cert.leaf)) {
		t.Fatalf("error %v, want an expired certificate with its fingerprint", err)
	}
	if failure.KindOf(err) != failure.Certificate || !strings.Contains(err.Error(), "ca-file") {
		t.Errorf("error %v: kind %v, want certificate, naming ca-file", err, failure.KindOf(err))
	}
}

// Implicit TLS against a plain-text port: a protocol error (exit 76), with
// the port to use instead, told by the server's first bytes.
func TestDialPlainPortWithTLS(t *testing.T) {
	for _, tt := range []struct {
		greeting, want string
	}{
		{"+OK POP3 ready\r\n", "answered in plain text (\"+OK P\"), not TLS: use --tls starttls, or port 995 for implicit TLS"},
		{"* OK [CAPABILITY IMAP4rev1] ready\r\n", "answered in plain text (\"* OK \"), not TLS: use --tls starttls, or port 993 for implicit TLS"},
		{"220 smtp ready\r\n", "answered in plain text (\"220 s\"), not TLS: use --tls starttls, or the server's port for implicit TLS"},
	} {
		srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
			io.WriteString(c, tt.greeting)
			<-done
		})
		_, port, _ := net.SplitHostPort(srv.addr)
		_, err := Dial(t.Context(), srv.addr, Security{Mode: TLSImplicit}, Timeouts{})
		if want := "dial " + srv.addr + ": tls handshake: port " + port + " " + tt.want; err == nil || err.Error() != want {
			t.Errorf("error %v\nwant %s", err, want)
		}
		if failure.KindOf(err) != failure.Protocol {
			t.Errorf("kind %v, want protocol", failure.KindOf(err))
		}
	}
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		addr string
		sec  Security
		want string
		kind failure.Kind
	}{
		{"refused", closedAddr, Security{Mode: TLSNone}, "dial " + closedAddr + ": connect: connection refused", failure.Temporary},
		{"refused before TLS", closedAddr, Security{}, "dial " + closedAddr + ": ", failure.Temporary},
		{"no port", "127.0.0.1", Security{Mode: TLSNone}, "dial 127.0.0.1: ", failure.Usage},
		{"missing CA file", closedAddr, Security{CAFile: "/nonexistent/ca.pem"}, "ca file", failure.Usage},
		{"CA file without certificates", closedAddr, Security{CAFile: "server_test.go"}, "no PEM certificate", failure.Usage},
		{"bad fingerprint", closedAddr, Security{Fingerprint: "AB:CD"}, "64 hex digits", failure.Usage},
		{"bad mode", closedAddr, Security{Mode: TLSMode(9)}, "invalid TLS mode", failure.Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(t.Context(), tt.addr, tt.sec, Timeouts{})
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "dial "+tt.addr+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if k := failure.KindOf(err); k != tt.kind {
				t.Errorf("kind %v, want %v", k, tt.kind)
			}
		})
	}
}

func TestDialCancelled(t *testing.T) {
	// A server that never answers the TLS handshake: only the cancellation
	// ends Dial (the IO timeout is far away).
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) { <-done })
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := Dial(ctx, srv.addr, Security{}, Timeouts{IO: 10 * time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a cancellation reported as a timeout: %v", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) { <-done })
	_, err := Dial(t.Context(), srv.addr, Security{}, Timeouts{IO: 100 * time.Millisecond})
	if !errors.Is(err, os.ErrDeadlineExceeded) || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("error %v (kind %v), want a temporary timeout", err, failure.KindOf(err))
	}
	if !strings.Contains(err.Error(), "tls handshake") || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("error %q does not say the handshake timed out", err)
	}
}

func TestStartTLS(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour))
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		br := bufio.NewReader(c)
		io.WriteString(c, "+OK ready\r\n")
		if line, err := br.ReadString('\n'); err != nil || line != "STLS\r\n" {
			return
		}
		io.WriteString(c, "+OK Begin TLS negotiation\r\n")
		tc := tls.Server(c, cert.serverConfig())
		if err := tc.Handshake(); err != nil {
			return
		}
		br = bufio.NewReader(tc)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(tc, "+OK "+line)
		}
	})

	var trace bytes.Buffer
	c, err := Dial(t.Context(), srv.addr, Security{Mode: TLSStartTLS}, Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetTrace(NewTrace(&trace, "pop3"))
	br := bufio.NewReader(c)
	readLine(t, br)
	if _, ok := c.TLSConnectionState(); ok {
		t.Error("TLS before StartTLS")
	}
	io.WriteString(c, "STLS\r\n")
	readLine(t, br)

	cfg, err := Security{Mode: TLSStartTLS, CAFile: cert.caFile}.TLSConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("no TLS after StartTLS")
	}
	if err := c.StartTLS(t.Context(), cfg); err == nil {
		t.Error("a second StartTLS succeeded")
	}
	// The same Conn (and reader) goes on, over TLS.
	io.WriteString(c, "USER alice\r\n")
	readLine(t, br)
	io.WriteString(c, "PASS hunter2\r\n")
	if got := readLine(t, br); got != "+OK PASS hunter2\r\n" {
		t.Errorf("over TLS: %q", got)
	}

	const want = "S: +OK ready\nC: STLS\nS: +OK Begin TLS negotiation\nC: USER alice\nS: +OK USER alice\nC: PASS <redacted>\nS: +OK PASS hunter2\n"
	if trace.String() != want {
		t.Errorf("trace:\n%s\nwant:\n%s", &trace, want)
	}
	// The counts are of protocol bytes, before encryption.
	if r, w := c.BytesRead(), c.BytesWritten(); r != int64(len("+OK ready\r\n+OK Begin TLS negotiation\r\n+OK USER alice\r\n+OK PASS hunter2\r\n")) ||
		w != int64(len("STLS\r\nUSER alice\r\nPASS hunter2\r\n")) {
		t.Errorf("counted %d bytes read, %d written", r, w)
	}
}

func TestStartTLSRefusesCertificate(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour))
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		tls.Server(c, cert.serverConfig()).Handshake()
	})
	c, err := Dial(t.Context(), srv.addr, Security{Mode: TLSNone}, Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg, err := Security{}.TLSConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	err = c.StartTLS(t.Context(), cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "starttls "+srv.addr+": tls: certificate for 127.0.0.1") || !strings.Contains(err.Error(), Fingerprint(cert.leaf)) {
		t.Fatalf("error %v", err)
	}
	if failure.KindOf(err) != failure.Certificate {
		t.Errorf("kind %v, want certificate", failure.KindOf(err))
	}
}

// silent accepts a connection and neither reads nor writes.
func silent(c net.Conn, done <-chan struct{}) { <-done }

func dialPlain(t *testing.T, addr string, io time.Duration) *Conn {
	t.Helper()
	c, err := Dial(t.Context(), addr, Security{Mode: TLSNone}, Timeouts{IO: io})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReadTimeout(t *testing.T) {
	srv := serve(t, 0, silent)
	c := dialPlain(t, srv.addr, 100*time.Millisecond)
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("error %v, want a timeout", err)
	}
	if failure.KindOf(err) != failure.Temporary {
		t.Errorf("kind %v, want temporary", failure.KindOf(err))
	}
	if want := "read from " + srv.addr + ": timeout: the server sent nothing for 100ms"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a net.Error timeout", err)
	}
}

func TestTLSReadTimeout(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour))
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		if tls.Server(c, cert.serverConfig()).Handshake() == nil {
			<-done
		}
	})
	c, err := Dial(t.Context(), srv.addr, Security{CAFile: cert.caFile}, Timeouts{IO: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("error %v (kind %v), want a temporary timeout", err, failure.KindOf(err))
	}
	if want := "read from " + srv.addr + ": timeout: the server sent nothing for 100ms"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestWriteTimeout(t *testing.T) {
	srv := serve(t, 4096, silent)
	c := dialPlain(t, srv.addr, 100*time.Millisecond)
	c.raw.Conn.(*net.TCPConn).SetWriteBuffer(4096)
	n, err := c.Write(make([]byte, 8<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("wrote %d bytes, error %v (kind %v), want a temporary timeout", n, err, failure.KindOf(err))
	}
	if !strings.Contains(err.Error(), "write to "+srv.addr+": timeout") {
		t.Errorf("error %q", err)
	}
}

// A server that keeps sending, slowly, is never timed out, though the whole
// transfer takes several IO timeouts: it moves more than MinTransfer bytes
// per timeout.
func TestSlowReadKeepsGoing(t *testing.T) {
	const chunks, size = 12, 512
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		for i := range chunks {
			if !sleep(60*time.Millisecond, done) {
				return
			}
			c.Write(bytes.Repeat([]byte{'a' + byte(i)}, size))
		}
	})
	c := dialPlain(t, srv.addr, 300*time.Millisecond)
	got, err := io.ReadAll(io.LimitReader(c, chunks*size))
	if err != nil || len(got) != chunks*size || got[len(got)-1] != 'l' {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

// A server that keeps reading, slowly, is never timed out, though a single
// Write takes several IO timeouts: the deadline is re-armed as it accepts
// data.
func TestSlowWriteKeepsGoing(t *testing.T) {
	// The server drains a few KiB every 10 ms: a 16 KiB chunk goes through
	// well within the IO timeout, the whole write takes several.
	const size = 512 << 10
	received := make(chan int, 1)
	srv := serve(t, 4096, func(c net.Conn, done <-chan struct{}) {
		buf := make([]byte, 8<<10)
		total := 0
		for total < size {
			if !sleep(10*time.Millisecond, done) {
				return
			}
			n, err := c.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
		received <- total
	})
	c := dialPlain(t, srv.addr, 500*time.Millisecond)
	c.raw.Conn.(*net.TCPConn).SetWriteBuffer(4096)
	if n, err := c.Write(make([]byte, size)); err != nil || n != size {
		t.Fatalf("wrote %d bytes: %v", n, err)
	}
	if got := <-received; got != size {
		t.Errorf("server received %d bytes", got)
	}
	if c.BytesWritten() != size {
		t.Errorf("counted %d bytes written", c.BytesWritten())
	}
}

// readAsync starts a Read and returns its result when it ends.
func readAsync(c *Conn) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		errc <- err
	}()
	return errc
}

func TestCancelUnblocksRead(t *testing.T) {
	srv := serve(t, 0, silent)
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Dial(ctx, srv.addr, Security{Mode: TLSNone}, Timeouts{IO: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := readAsync(c)
	time.Sleep(20 * time.Millisecond) // let the Read block; passes without too
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want context.Canceled (the IO timeout is 10 minutes away)", err)
	}
	// Cancellation is final.
	if _, err := c.Write([]byte("NOOP\r\n")); !errors.Is(err, context.Canceled) {
		t.Errorf("write after cancel: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestCancelUnblocksTLSRead(t *testing.T) {
	cert := newTestCert(t, time.Now().Add(24*time.Hour))
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		tc := tls.Server(c, cert.serverConfig())
		if tc.Handshake() == nil {
			<-done
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Dial(ctx, srv.addr, Security{CAFile: cert.caFile}, Timeouts{IO: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	errc := readAsync(c)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("read: %v, want context.Canceled", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestBind(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		// Send a line for each line received.
		br := bufio.NewReader(c)
		for {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			io.WriteString(c, "+OK\r\n")
		}
	})
	c := dialPlain(t, srv.addr, 10*time.Minute)

	// A released binding no longer cancels anything.
	ctx1, cancel1 := context.WithCancel(t.Context())
	release := c.Bind(ctx1)
	release()
	cancel1()
	io.WriteString(c, "NOOP\r\n")
	if _, err := c.Read(make([]byte, 5)); err != nil {
		t.Fatalf("read after a released binding was cancelled: %v", err)
	}

	// A call's context, cancelled with a cause, stops a blocked Read.
	cause := errors.New("user pressed ^C")
	ctx2, cancel2 := context.WithCancelCause(t.Context())
	defer c.Bind(ctx2)()
	errc := readAsync(c)
	cancel2(cause)
	if err := <-errc; !errors.Is(err, cause) {
		t.Fatalf("read: %v, want the cancellation cause", err)
	}

	// Binding a context that is already done fails the next operation.
	c2 := dialPlain(t, srv.addr, 10*time.Minute)
	done, cancel3 := context.WithCancel(t.Context())
	cancel3()
	c2.Bind(done)
	if _, err := c2.Write([]byte("NOOP\r\n")); !errors.Is(err, context.Canceled) {
		t.Errorf("write: %v, want context.Canceled", err)
	}
}

// Protocol clients interrupt a blocked call the net.Conn way, with a past
// deadline; a zero deadline lets the connection go on.
func TestPastDeadlineInterrupts(t *testing.T) {
	proceed := make(chan struct{})
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		select {
		case <-proceed:
			io.WriteString(c, "+OK\r\n")
		case <-done:
		}
		<-done
	})
	c := dialPlain(t, srv.addr, 10*time.Minute)
	errc := readAsync(c)
	time.Sleep(20 * time.Millisecond) // let the Read block; passes without too
	c.SetDeadline(time.Now())
	err := <-errc
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("read: %v, want an interruption", err)
	}
	if _, err := c.Read(make([]byte, 5)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read while the deadline is past: %v", err)
	}
	c.SetDeadline(time.Time{})
	close(proceed)
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "+OK\r\n" {
		t.Errorf("read after clearing the deadline: %q, %v", got, err)
	}
}

// A library's own per-response deadline (imapclient sets one) does not cut
// a response that is still coming: the Conn owns the deadlines.
func TestFutureDeadlineIgnored(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		if sleep(200*time.Millisecond, done) {
			io.WriteString(c, "+OK\r\n")
		}
		<-done
	})
	c := dialPlain(t, srv.addr, 10*time.Minute)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "+OK\r\n" {
		t.Errorf("read: %q, %v", got, err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	srv := serve(t, 0, silent)
	c := dialPlain(t, srv.addr, 10*time.Minute)
	errc := readAsync(c)
	c.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read: %v, want net.ErrClosed", err)
	}
}

func TestCountsAndEOF(t *testing.T) {
	srv := serve(t, 0, func(c net.Conn, done <-chan struct{}) {
		br := bufio.NewReader(c)
		io.WriteString(c, "+OK ready\r\n")
		line, _ := br.ReadString('\n')
		io.WriteString(c, line)
	})
	c := dialPlain(t, srv.addr, time.Minute)
	io.WriteString(c, "hello\r\n")
	data, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("ReadAll: %v (io.EOF must come through unwrapped)", err)
	}
	if string(data) != "+OK ready\r\nhello\r\n" {
		t.Errorf("read %q", data)
	}
	if c.BytesRead() != int64(len(data)) || c.BytesWritten() != 7 {
		t.Errorf("counted %d read, %d written", c.BytesRead(), c.BytesWritten())
	}
}

func TestSetTraceOneConnection(t *testing.T) {
	srv := serve(t, 0, silent)
	c1 := dialPlain(t, srv.addr, time.Minute)
	c2 := dialPlain(t, srv.addr, time.Minute)
	tr := NewTrace(io.Discard, "imap")
	c1.SetTrace(tr)
	c1.SetTrace(tr) // again on the same one: fine
	defer func() {
		if recover() == nil {
			t.Error("a Trace was accepted by a second connection")
		}
	}()
	c2.SetTrace(tr)
}
