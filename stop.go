package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// A run stops early in two ways, both through the context the engines
// honour (they finish or abandon the message at hand, and what is durable
// stays): a signal, and the account's deadline. Either is the context's
// cause, so that the CLI can say in one line what happened, whatever each
// folder made of the cancellation.

// stopSignal is the cause of a run stopped by SIGINT or SIGTERM.
type stopSignal struct{ sig syscall.Signal }

func (s *stopSignal) Error() string {
	return fmt.Sprintf("interrupted by %s: stopped safely; what was fetched is kept, and the next run goes on", unix.SignalName(s.sig))
}

// err is the stop as an error of its kind: exit 143 for SIGTERM, 130 for
// SIGINT (128 + the signal's number, as a shell reports it).
func (s *stopSignal) err() error {
	if s.sig == syscall.SIGTERM {
		return failure.Wrap(failure.Terminated, s)
	}
	return failure.Wrap(failure.Interrupted, s)
}

// signalOf returns the signal that stopped ctx, or nil.
func signalOf(ctx context.Context) *stopSignal {
	if ctx.Err() == nil {
		return nil
	}
	return signalOfErr(context.Cause(ctx))
}

func signalOfErr(err error) *stopSignal {
	var s *stopSignal
	if errors.As(err, &s) {
		return s
	}
	return nil
}

// stopOnSignals returns a context that the first SIGINT or SIGTERM cancels,
// with a *stopSignal (of its kind) as the cause. After that first signal,
// the signals have their default action again: a second Ctrl-C ends the
// process at once, which is safe too (a run killed at any instant loses
// nothing), only less tidy.
func stopOnSignals(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			s, _ := sig.(syscall.Signal)
			cancel((&stopSignal{sig: s}).err())
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}

// deadlineError is the cause of an account stopped by its deadline: a
// temporary failure (exit 75), since the next run goes on from where this
// one stopped.
func deadlineError(d time.Duration) error {
	return failure.New(failure.Temporary, fmt.Sprintf(
		"the run passed its deadline of %s (deadline): stopped safely; what was fetched is kept, and the next run goes on", shortDuration(d)))
}

// shortDuration writes d without the zero units time.Duration.String
// keeps: "2h", "1h30m", "45s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
