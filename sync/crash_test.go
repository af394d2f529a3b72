package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// helperEnv selects the helper mode of the test binary: run one sync with
// the settings in the variable, then exit.
const helperEnv = "MAILFETCH_SYNC_HELPER"

type helperConfig struct {
	Host        string
	Port        int
	User, Pass  string
	Root, State string
	Layout      maildir.Layout
}

// TestHelperProcess is not a test: TestCrashLoop runs the test binary
// with helperEnv set to make it sync once in a child process it kills.
func TestHelperProcess(t *testing.T) {
	t.Parallel()
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper process of TestCrashLoop")
	}
	var c helperConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	st, err := maildir.Open(c.Root, c.Layout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, err = Run(context.Background(), Options{
		Account: "crash", Host: c.Host, Port: c.Port,
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		User:     c.User, Secret: c.Pass, Store: st, StateDir: c.State, Sink: report.Discard,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// A sync killed (SIGKILL) at random moments of a 2,000-message initial
// sync, then run to the end: every message is there exactly once.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	if err := srv.SeedGenerated(user.Name, "INBOX", 31, 1400); err != nil {
		t.Fatal(err)
	}
	msgs := dovetest.Generate(32, 600)
	for i := range msgs {
		msgs[i].Flags = ""
	}
	if err := srv.Seed(user.Name, "Other", msgs); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	if err := os.MkdirAll(env.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(helperConfig{Host: srv.Host, Port: srv.IMAPPort, User: user.Name, Pass: user.Password,
		Root: env.root, State: env.stateDir, Layout: maildir.LayoutFS})

	seed := time.Now().UnixNano()
	t.Logf("kill delays seeded with %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	kills := 0
	for i := 0; i < 15; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+string(cfg))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := time.Duration(20+rnd.IntN(1500)) * time.Millisecond
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("helper run %d failed: %v", i, err)
			}
			t.Logf("helper run %d completed after %d kills", i, kills)
			i = 1 << 20 // done: the sync finished
		case <-time.After(delay):
			if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			<-done
			kills++
		}
	}
	res, _ := env.mustRun(nil)
	t.Logf("%d kills; the final run delivered %d", kills, res.Delivered)
	env.verifyMirror("INBOX")
	env.verifyMirror("Other", "Other")
}

// cutProxy forwards TCP connections to a server and cuts each one after
// limit bytes from the server (0: never).
type cutProxy struct {
	ln     net.Listener
	target string
	mu     gosync.Mutex
	limit  int64
	wg     gosync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *cutProxy) setLimit(n int64) {
	p.mu.Lock()
	p.limit = n
	p.mu.Unlock()
}

func (p *cutProxy) forward(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	p.mu.Lock()
	limit := p.limit
	p.mu.Unlock()
	go func() {
		io.Copy(s, c)
		s.Close()
	}()
	if limit > 0 {
		io.CopyN(c, s, limit)
		return // both ends closed: a cut in the middle of whatever was flowing
	}
	io.Copy(c, s)
}

// A connection cut in the middle of the FETCH: the run fails as a
// temporary failure with what was complete delivered, and the next run
// completes without a duplicate.
func TestCutMidFetch(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	if err := srv.SeedGenerated(user.Name, "INBOX", 41, 400); err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, srv.IMAPAddr())
	env := newEnv(t, srv, user, maildir.LayoutFS)
	viaProxy := func(o *Options) { o.Port = proxy.port(); o.Jobs = 1 }
	total := 0
	for _, limit := range []int64{1 << 20, 3 << 20, 7<<20 + 12345} {
		proxy.setLimit(limit)
		res, _, err := env.run(viaProxy)
		if err == nil {
			t.Fatalf("cut after %d bytes: no error (%+v)", limit, res)
		}
		if k := failure.KindOf(err); k != failure.Temporary {
			t.Errorf("cut after %d bytes: %v is %v, want temporary", limit, err, k)
		}
		total += res.Delivered
		t.Logf("cut after %d bytes: %d delivered: %v", limit, res.Delivered, err)
	}
	proxy.setLimit(0)
	res, _ := env.mustRun(viaProxy)
	if total+res.Delivered != 400 {
		t.Errorf("delivered %d in all, want 400", total+res.Delivered)
	}
	env.verifyMirror("INBOX")
}
