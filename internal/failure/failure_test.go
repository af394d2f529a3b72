package failure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestKindsAndCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"nil", nil, CodeOK},
		{"plain", errors.New("x"), CodeOther},
		{"usage", Wrap(Usage, errors.New("bad flag")), CodeUsage},
		{"auth", New(Auth, "refused"), CodeAuth},
		{"partial", New(Partial, "2 folders failed"), CodePartial},
		{"locked", New(Locked, "held"), CodeLocked},
		{"outermost kind wins", Wrap(Partial, fmt.Errorf("x: %w", Wrap(Auth, errors.New("y")))), CodePartial},
		{"wrapped through fmt", fmt.Errorf("ctx: %w", New(Auth, "no")), CodeAuth},
		{"ENOSPC", &fs.PathError{Op: "write", Path: "/m/tmp/x", Err: syscall.ENOSPC}, CodeLocalIO},
		{"permission", &fs.PathError{Op: "open", Path: "/m", Err: fs.ErrPermission}, CodeLocalIO},
		{"deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), CodeTemporary},
		{"ctx deadline", context.DeadlineExceeded, CodeTemporary},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, CodeTemporary},
		{"dns unreachable", &net.DNSError{Err: "server misbehaving", Name: "x.example", IsTemporary: true}, CodeTemporary},
		{"dns no such host", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, CodeNoHost},
		{"unknown authority", fmt.Errorf("tls: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), CodeCertificate},
		{"wrong host name", x509.HostnameError{Host: "a.example"}, CodeCertificate},
		{"protocol", New(Protocol, "port 995 answered like a POP3 server"), CodeProtocol},
		{"guard", New(Guard, "would delete 600 of 700"), CodeGuard},
		{"unavailable", New(Unavailable, "failing since"), CodeUnavailable},
		{"interrupted", fmt.Errorf("imap: %w", New(Interrupted, "interrupted")), CodeInterrupted},
		{"terminated", New(Terminated, "terminated"), CodeTerminated},
	}
	for _, c := range cases {
		if got := Code(c.err); got != c.code {
			t.Errorf("%s: Code = %d, want %d", c.name, got, c.code)
		}
	}
	if Wrap(Auth, nil) != nil {
		t.Error("Wrap(kind, nil) must be nil")
	}
	e := errors.New("msg")
	if Wrap(Temporary, e).Error() != "msg" || !errors.Is(Wrap(Temporary, e), e) {
		t.Error("Wrap must keep the message and the chain")
	}
}

// Every kind has a name of its own and a code of its own: the JSON
// error_kind and the exit code tell each apart.
func TestKindsDistinct(t *testing.T) {
	names, codes := map[string]Kind{}, map[int]Kind{}
	for _, k := range Kinds {
		if other, ok := names[k.String()]; ok {
			t.Errorf("%v and %v are both named %q", k, other, k.String())
		}
		if other, ok := codes[k.Code()]; ok {
			t.Errorf("%v and %v both exit %d", k, other, k.Code())
		}
		names[k.String()], codes[k.Code()] = k, k
	}
}

func TestCombined(t *testing.T) {
	tmp, auth, guard := New(Temporary, "t"), New(Auth, "a"), New(Guard, "g")
	cases := []struct {
		name   string
		failed []error
		total  int
		want   Kind
	}{
		{"all alike", []error{tmp, tmp}, 2, Temporary},
		{"some completed", []error{tmp}, 3, Partial},
		{"different kinds", []error{tmp, auth}, 2, Partial},
		{"a guard among completed parts", []error{guard}, 5, Guard},
		{"a guard and another failure", []error{guard, tmp}, 5, Partial},
	}
	for _, c := range cases {
		if got := Combined(c.failed, c.total); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
