package sync

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

func TestConnect(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	if err := srv.Seed(user.Name, "INBOX", dovetest.Generate(3, 5)); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateMailbox(user.Name, "Archive/2024"); err != nil {
		t.Fatal(err)
	}
	base := Options{Host: srv.Host, User: user.Name, Secret: user.Password, Timeouts: transport.Timeouts{IO: 20 * time.Second}}
	cases := []struct {
		name   string
		port   int
		sec    transport.Security
		auth   string
		secret string
		want   failure.Kind // Other with ok: success
		ok     bool
	}{
		{"implicit TLS", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit, CAFile: srv.CAFile}, "", "", 0, true},
		{"STARTTLS", srv.IMAPPort, transport.Security{Mode: transport.TLSStartTLS, CAFile: srv.CAFile}, "login", "", 0, true},
		{"pinned", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit, Fingerprint: srv.CertSHA256}, "plain", "", 0, true},
		{"untrusted certificate", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit}, "", "", failure.Certificate, false},
		{"plain text refused", srv.IMAPPort, transport.Security{Mode: transport.TLSNone}, "", "", failure.Usage, false},
		{"plain text allowed", srv.IMAPPort, transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true}, "", "", 0, true},
		{"wrong password", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit, CAFile: srv.CAFile}, "", "wrong", failure.Auth, false},
		{"wrong password, LOGIN", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit, CAFile: srv.CAFile}, "login", "wrong", failure.Auth, false},
		{"mechanism not offered", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit, CAFile: srv.CAFile}, "xoauth2", "", failure.Auth, false},
		{"unknown mechanism", srv.IMAPSPort, transport.Security{Mode: transport.TLSImplicit, CAFile: srv.CAFile}, "kerberos", "", failure.Usage, false},
		{"nothing listening", 1, transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true}, "", "", failure.Temporary, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opt := base
			opt.Port, opt.Security, opt.Auth = c.port, c.sec, c.auth
			if c.secret != "" {
				opt.Secret = c.secret
			}
			var trace bytes.Buffer
			opt.Trace = &trace
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := Check(ctx, opt)
			if c.ok {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if res.Folders != 2 || len(res.Capabilities) == 0 {
					t.Errorf("Check = %+v, want 2 selectable folders (Archive is only a parent)", res)
				}
				// After STARTTLS too, the trace shows the commands, not TLS records.
				if !strings.Contains(trace.String(), "LIST \"\" \"*\"") {
					t.Errorf("trace lacks the LIST after login:\n%s", trace.String())
				}
			} else {
				if err == nil {
					t.Fatal("Check succeeded")
				}
				if k := failure.KindOf(err); k != c.want {
					t.Errorf("error %v is %v, want %v", err, k, c.want)
				}
			}
			if strings.Contains(trace.String(), user.Password) || strings.Contains(err2s(err), user.Password) {
				t.Errorf("the password shows in the trace or the error")
			}
		})
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestListFolders(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	msgs := dovetest.Generate(5, 4)
	for i := range msgs {
		msgs[i].Flags = map[int]string{0: "S"}[i]
	}
	if err := srv.Seed(user.Name, "Entwürfe", msgs); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutMaildirPP)
	opt := env.options(nil)
	opt.Patterns = []string{"*", "!INBOX"}
	folders, err := List(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(folders) != 1 {
		t.Fatalf("List = %+v, want Entwürfe only", folders)
	}
	f := folders[0]
	if f.Name != "Entwürfe" || f.Messages != 4 || f.Unseen != 3 || f.Delimiter != "/" || f.Path != env.localDir("Entwürfe") {
		t.Errorf("List = %+v", f)
	}
	if _, err := List(context.Background(), Options{Host: srv.Host, Port: srv.IMAPPort, Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true}, User: user.Name, Secret: user.Password}); err != nil {
		t.Errorf("List without a store: %v", err)
	}
}
