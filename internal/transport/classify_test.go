package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
)

func TestClassify(t *testing.T) {
	other := errors.New("a reply that says no")
	for _, tc := range []struct {
		err  error
		kind failure.Kind
	}{
		{io.EOF, failure.Temporary},
		{fmt.Errorf("pop3: RETR 3: %w", io.ErrUnexpectedEOF), failure.Temporary},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, failure.Temporary},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), failure.Temporary},
		{failure.Wrap(failure.Auth, io.EOF), failure.Auth},
		{failure.Wrap(failure.Protocol, errors.New("bad reply")), failure.Protocol},
		{other, failure.Other},
	} {
		got := Classify(tc.err)
		if failure.KindOf(got) != tc.kind {
			t.Errorf("Classify(%v) is %v, want %v", tc.err, failure.KindOf(got), tc.kind)
		}
		if got.Error() != tc.err.Error() || !errors.Is(got, tc.err) {
			t.Errorf("Classify(%v) changed the error: %v", tc.err, got)
		}
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
	if Classify(other) != other {
		t.Error("an error of no kind was wrapped")
	}
}
