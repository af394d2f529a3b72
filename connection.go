package main

import (
	"io"
	gosync "sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// connection turns an account's TLS settings into the transport's.
func connection(a *config.Account) (transport.Security, transport.Timeouts, error) {
	mode, err := transport.ParseTLSMode(a.TLS)
	if err != nil {
		return transport.Security{}, transport.Timeouts{}, err
	}
	sec := transport.Security{
		Mode: mode, CAFile: a.CAFile, Fingerprint: a.Fingerprint,
		AllowPlaintextAuth: a.AllowPlaintext,
	}
	return sec, transport.Timeouts{IO: a.Timeout}, nil
}

// destination is where the account's mail goes, for both engines: its
// MDA, or its Maildir store, opened (and created when missing) for a real
// run; for a dry run a read-only view of it (maildir.OpenView), which
// creates nothing and reads what is there (nothing, when the Maildir does
// not exist), so that the dry run shows exactly what the real run would do.
func destination(a *config.Account, dry bool) (maildir.Destination, error) {
	if a.MDA != "" {
		return maildir.MDADestination(&maildir.MDA{Command: a.MDA, Timeout: mdaTimeout, DropEnv: a.SecretVariables()}), nil
	}
	layout, err := maildir.ParseLayout(a.Layout)
	if err != nil {
		return maildir.Destination{}, err
	}
	open := maildir.Open
	if dry {
		open = maildir.OpenView
	}
	store, err := open(a.Maildir, layout)
	if err != nil {
		return maildir.Destination{}, err
	}
	return maildir.StoreDestination(store), nil
}

// mdaTimeout bounds one MDA run: a hung filter must not hold the lock (and
// the server session) forever.
const mdaTimeout = 5 * time.Minute

// traceOut is --trace's destination, shared by every connection of the run
// so that lines of parallel connections never interleave mid-line.
type traceOut struct{ w io.Writer }

func traceWriter(c *cli.Context) traceOut {
	if !flagBool(c, "trace") {
		return traceOut{}
	}
	return traceOut{w: &lockedWriter{w: c.App.ErrWriter}}
}

func (t traceOut) writer() io.Writer { return t.w }

type lockedWriter struct {
	mu gosync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
