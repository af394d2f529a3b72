package transport

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// saslStep is one challenge from the server and the response expected.
type saslStep struct {
	challenge string
	response  string // ignored when err
	err       bool
}

func TestSASLVectors(t *testing.T) {
	tests := []struct {
		name         string
		mech         string
		user, secret string
		wantMech     string
		wantIR       *string // nil: no initial response
		steps        []saslStep
	}{
		{
			name: "PLAIN", mech: "plain", user: "tim", secret: "tanstaaftanstaaf",
			wantMech: "PLAIN", wantIR: ptr("\x00tim\x00tanstaaftanstaaf"),
		},
		{
			name: "CRAM-MD5 RFC 2195", mech: "CRAM-MD5", user: "tim", secret: "tanstaaftanstaaf",
			wantMech: "CRAM-MD5",
			steps: []saslStep{
				{challenge: "<1896.697170952@postoffice.reston.mci.net>", response: "tim b913a602c7eda7a495b4e6e7334d3890"},
				{challenge: "again", err: true},
			},
		},
		{
			name: "LOGIN prompts by text", mech: "Login", user: "alice", secret: "hunter2",
			wantMech: "LOGIN",
			steps: []saslStep{
				{challenge: "Username:", response: "alice"},
				{challenge: "Password:", response: "hunter2"},
				{challenge: "more?", err: true},
			},
		},
		{
			name: "LOGIN other spellings", mech: "LOGIN", user: "alice", secret: "hunter2",
			wantMech: "LOGIN",
			steps: []saslStep{
				{challenge: "User Name\x00", response: "alice"},
				{challenge: "PASSWORD", response: "hunter2"},
			},
		},
		{
			name: "LOGIN password asked first", mech: "LOGIN", user: "alice", secret: "hunter2",
			wantMech: "LOGIN",
			steps: []saslStep{
				{challenge: "password:", response: "hunter2"},
				{challenge: "Username:", err: true},
			},
		},
		{
			name: "LOGIN unknown prompts by order", mech: "LOGIN", user: "alice", secret: "hunter2",
			wantMech: "LOGIN",
			steps: []saslStep{
				{challenge: "Benutzername:", response: "alice"},
				{challenge: "", response: "hunter2"},
				{challenge: "", err: true},
			},
		},
		{
			name: "XOAUTH2", mech: "xoauth2", user: "alice@example.com", secret: "ya29.token",
			wantMech: "XOAUTH2", wantIR: ptr("user=alice@example.com\x01auth=Bearer ya29.token\x01\x01"),
			steps: []saslStep{
				// The JSON error is answered with an empty response, so
				// the server sends its final failure reply.
				{challenge: `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`, response: ""},
				{challenge: "again", err: true},
			},
		},
		{
			name: "OAUTHBEARER", mech: "OAuthBearer", user: "alice@example.com", secret: "ya29.token",
			wantMech: "OAUTHBEARER", wantIR: ptr("n,a=alice@example.com,\x01auth=Bearer ya29.token\x01\x01"),
			steps: []saslStep{
				// RFC 7628 §3.2.3: the error is answered with %x01.
				{challenge: `{"status":"invalid_token"}`, response: "\x01"},
				{challenge: "again", err: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := SASL(tt.mech, tt.user, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			mech, ir, err := cl.Start()
			if err != nil {
				t.Fatal(err)
			}
			if mech != tt.wantMech {
				t.Errorf("mechanism %q, want %q", mech, tt.wantMech)
			}
			switch {
			case tt.wantIR == nil && ir != nil:
				t.Errorf("initial response %q, want none", ir)
			case tt.wantIR != nil && (ir == nil || string(ir) != *tt.wantIR):
				t.Errorf("initial response %q, want %q", ir, *tt.wantIR)
			}
			for i, st := range tt.steps {
				resp, err := cl.Next([]byte(st.challenge))
				if st.err {
					if err == nil {
						t.Errorf("step %d: response %q, want an error", i, resp)
					}
					break
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if resp == nil || string(resp) != st.response {
					// nil would mean "no response" to go-imap: an empty
					// one must be non-nil.
					t.Errorf("step %d: response %q (nil %v), want %q", i, resp, resp == nil, st.response)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestSASLUnknownMechanism(t *testing.T) {
	_, err := SASL("SCRAM-SHA-256", "alice", "x")
	if err == nil {
		t.Fatal("no error")
	}
	if failure.KindOf(err) != failure.Usage {
		t.Errorf("kind %v, want usage", failure.KindOf(err))
	}
	for _, m := range mechanisms {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not list %s", err, m)
		}
	}
}

// The clients work against go-sasl's servers: PLAIN, and the OAUTHBEARER
// failure exchange ending with the server's error.
func TestSASLAgainstServers(t *testing.T) {
	var gotUser, gotPass string
	plain := sasl.NewPlainServer(func(identity, user, pass string) error {
		gotUser, gotPass = user, pass
		return nil
	})
	if err := exchange(t, "PLAIN", "alice", "hunter2", plain); err != nil {
		t.Errorf("PLAIN: %v", err)
	}
	if gotUser != "alice" || gotPass != "hunter2" {
		t.Errorf("PLAIN: server got %q/%q", gotUser, gotPass)
	}

	bearer := sasl.NewOAuthBearerServer(func(opts sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if opts.Token == "good" {
			return nil
		}
		return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
	})
	if err := exchange(t, "OAUTHBEARER", "alice", "bad", bearer); err == nil {
		t.Error("OAUTHBEARER with a bad token: no failure")
	} else if !strings.Contains(err.Error(), "invalid_token") {
		t.Errorf("OAUTHBEARER: server failed with %v, want its own invalid_token error", err)
	}
	good := sasl.NewOAuthBearerServer(func(opts sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if opts.Token != "good" || opts.Username != "alice" {
			return &sasl.OAuthBearerError{Status: "invalid_token"}
		}
		return nil
	})
	if err := exchange(t, "OAUTHBEARER", "alice", "good", good); err != nil {
		t.Errorf("OAUTHBEARER with a good token: %v", err)
	}
}

// exchange runs a SASL exchange the way go-imap does and returns the
// server's verdict.
func exchange(t *testing.T, mech, user, secret string, srv sasl.Server) error {
	t.Helper()
	cl, err := SASL(mech, user, secret)
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := cl.Start()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		challenge, done, err := srv.Next(resp)
		if done || err != nil {
			return err
		}
		if resp, err = cl.Next(challenge); err != nil {
			t.Fatalf("client: %v", err)
		}
	}
	t.Fatal("exchange does not end")
	return nil
}

// AutoLogin over SASL mechanisms alone: asked again without each
// mechanism it chose, it lists them strongest first, as POP3's order has
// them (PLAIN, CRAM-MD5, LOGIN with TLS; only CRAM-MD5 without), and never
// a token mechanism.
func TestAutoLoginSASLOrder(t *testing.T) {
	tests := []struct {
		server  []string
		haveTLS bool
		want    []string
	}{
		{[]string{"PLAIN", "LOGIN", "CRAM-MD5"}, true, []string{"PLAIN", "CRAM-MD5", "LOGIN"}},
		{[]string{"login", "plain"}, true, []string{"PLAIN", "LOGIN"}},
		{[]string{"LOGIN", "XOAUTH2", "OAUTHBEARER"}, true, []string{"LOGIN"}},
		{[]string{"PLAIN", "LOGIN", "CRAM-MD5"}, false, []string{"CRAM-MD5"}},
		{[]string{"PLAIN", "LOGIN"}, false, nil},
		{[]string{"SCRAM-SHA-1", "GSSAPI"}, true, nil},
		{[]string{" cram-md5 "}, false, []string{"CRAM-MD5"}},
		{nil, true, nil},
	}
	for _, tt := range tests {
		var got []string
		offer := LoginOffer{SASL: slices.Clone(tt.server), Protected: tt.haveTLS}
		for {
			name, own, ok := AutoLogin(offer, POP3Auto)
			if !ok {
				break
			}
			if own {
				t.Fatalf("%q: chose an own login %q without one offered", tt.server, name)
			}
			got = append(got, name)
			offer.SASL = slices.DeleteFunc(offer.SASL, func(m string) bool { return strings.EqualFold(strings.TrimSpace(m), name) })
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SASL %q, TLS %v: chose %q in turn, want %q", tt.server, tt.haveTLS, got, tt.want)
		}
	}
}

// POP3's order with its own logins: USER/PASS after the SASL mechanisms
// over TLS; without, CRAM-MD5, then APOP, then USER (which CheckAuth
// refuses).
func TestAutoLoginPOP3(t *testing.T) {
	tests := []struct {
		sasl      []string
		apop      bool
		protected bool
		want      string
	}{
		{[]string{"PLAIN", "CRAM-MD5"}, true, true, "PLAIN"},
		{nil, true, true, "USER"},
		{[]string{"XOAUTH2"}, false, true, "USER"},
		{[]string{"PLAIN", "CRAM-MD5"}, true, false, "CRAM-MD5"},
		{[]string{"PLAIN"}, true, false, "APOP"},
		{[]string{"PLAIN"}, false, false, "USER"},
		{nil, false, false, "USER"},
	}
	for _, tt := range tests {
		o := LoginOffer{SASL: tt.sasl, Command: "USER", Protected: tt.protected}
		if tt.apop {
			o.Digest = "APOP"
		}
		if got, _, ok := AutoLogin(o, POP3Auto); !ok || got != tt.want {
			t.Errorf("%+v: got %q, %v; want %q", o, got, ok, tt.want)
		}
	}
}

// IMAPAuto reproduces the IMAP engine's rule exactly, over every
// combination of what a server may offer and the connection: PLAIN if
// offered, else LOGIN unless LOGINDISABLED, else nothing.
func TestAutoLoginIMAP(t *testing.T) {
	for _, plain := range []bool{false, true} {
		for _, others := range [][]string{nil, {"CRAM-MD5"}, {"LOGIN"}, {"CRAM-MD5", "LOGIN", "XOAUTH2"}} {
			for _, disabled := range []bool{false, true} {
				for _, protected := range []bool{false, true} {
					sasl := slices.Clone(others)
					if plain {
						sasl = append(sasl, "PLAIN")
					}
					o := LoginOffer{SASL: sasl, Command: "LOGIN", Protected: protected}
					if disabled {
						o.Command = ""
					}
					want, wantOwn, wantOK := "", false, true
					switch {
					case plain:
						want = "PLAIN"
					case !disabled:
						want, wantOwn = "LOGIN", true
					default:
						wantOK = false
					}
					if got, own, ok := AutoLogin(o, IMAPAuto); got != want || own != wantOwn || ok != wantOK {
						t.Errorf("%+v: got %q own %v ok %v; want %q own %v ok %v", o, got, own, ok, want, wantOwn, wantOK)
					}
				}
			}
		}
	}
}

func TestCheckAuth(t *testing.T) {
	tests := []struct {
		mech      string
		encrypted bool
		allow     bool
		ok        bool
	}{
		{"PLAIN", true, false, true},
		{"PLAIN", false, false, false},
		{"PLAIN", false, true, true},
		{"USER", false, false, false},
		{"LOGIN", false, false, false},
		{"xoauth2", false, false, false},
		{"SOMETHING-NEW", false, false, false},
		{"cram-md5", false, false, true},
		{"APOP", false, false, true},
	}
	for _, tt := range tests {
		err := Security{AllowPlaintextAuth: tt.allow}.CheckAuth(tt.mech, tt.encrypted)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAuth(%s, encrypted %v, allowed %v) = %v", tt.mech, tt.encrypted, tt.allow, err)
		}
		if err != nil && failure.KindOf(err) != failure.Usage {
			t.Errorf("CheckAuth(%s): kind %v, want usage", tt.mech, failure.KindOf(err))
		}
	}
}

func TestSASLEveryMechanism(t *testing.T) {
	for _, m := range mechanisms {
		cl, err := SASL(m, "u", "s")
		if err != nil || cl == nil {
			t.Errorf("SASL(%s): %v", m, err)
		}
		if _, _, err := cl.Start(); err != nil {
			t.Errorf("SASL(%s).Start: %v", m, err)
		}
	}
	if _, err := SASL(" plain ", "u", "s"); err != nil {
		t.Errorf("mechanism with blanks: %v", err)
	}
}
