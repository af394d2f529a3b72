// Command pop3window measures mailfetch's POP3 engine (fetch.Run) with
// different pipelining windows, to show what the window costs on a link
// with latency. It is the experiment behind pop3.DefaultWindow (128): with
// 32 in flight, a 50 ms link capped a 1,000-message fetch at about 2.3 s;
// with 128 it took about 1.3 s.
//
// Start a server with the 50 ms proxy first, then point this at the proxy:
//
//	go run ./bench/cmd/peerbench -only pop3-rtt -tools mailfetch -serve
//	go run ./bench/cmd/pop3window -port PROXYPORT -user pop1000 -windows 32,64,128
//
// Each run fetches every message (keep mode) into a fresh Maildir under
// -dir, which is removed at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mailfetch/mailfetch/fetch"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pop3window:", err)
		os.Exit(1)
	}
}

func run() error {
	host := flag.String("host", "127.0.0.1", "POP3 server (plain port, no TLS)")
	port := flag.Int("port", 0, "POP3 port (the proxy's, for latency)")
	user := flag.String("user", "pop1000", "user")
	pass := flag.String("password", "secret", "password")
	windows := flag.String("windows", "32,128", "windows to compare, comma-separated (1 to 128)")
	runs := flag.Int("runs", 2, "runs per window, in turns")
	flag.Parse()
	if *port == 0 {
		return fmt.Errorf("-port is required")
	}
	var ws []int
	for _, f := range strings.Split(*windows, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || w < 1 || w > 128 {
			return fmt.Errorf("bad window %q", f)
		}
		ws = append(ws, w)
	}
	if *runs < 1 || *runs > 20 {
		return fmt.Errorf("-runs must be 1 to 20")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "pop3window-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for r := range *runs {
		for _, w := range ws {
			if err := once(ctx, filepath.Join(dir, fmt.Sprintf("w%d-r%d", w, r)), *host, *port, *user, *pass, w); err != nil {
				return err
			}
		}
	}
	return nil
}

func once(ctx context.Context, dir, host string, port int, user, pass string, window int) error {
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		return err
	}
	store, err := maildir.Open(filepath.Join(dir, "Maildir"), maildir.LayoutMaildirPP)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := fetch.Run(ctx, fetch.Options{
		Account: "pop3window", Host: host, Port: port,
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		Timeouts: transport.Timeouts{IO: time.Minute},
		User:     user, Secret: pass, Dest: maildir.StoreDestination(store),
		StateDir: filepath.Join(dir, "state"), Keep: true, Window: window,
	})
	if err != nil {
		return fmt.Errorf("window %d: %w", window, err)
	}
	fmt.Printf("window %3d: %d messages (%.1f MB) in %.2f s\n", window, res.Delivered, float64(res.Bytes)/1e6, time.Since(start).Seconds())
	return nil
}
