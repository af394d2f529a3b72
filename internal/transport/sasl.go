package transport

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// SASL mechanism names, as servers advertise them.
const (
	MechPlain       = "PLAIN"
	MechLogin       = "LOGIN"
	MechCRAMMD5     = "CRAM-MD5"
	MechXOAuth2     = "XOAUTH2"
	MechOAuthBearer = "OAUTHBEARER"
)

// mechanisms lists what SASL supports, in the order error messages give.
var mechanisms = []string{MechPlain, MechLogin, MechCRAMMD5, MechXOAuth2, MechOAuthBearer}

// SASL returns a client for the mechanism mech (any case): PLAIN, LOGIN and
// CRAM-MD5 take a password as secret, XOAUTH2 and OAUTHBEARER an OAuth 2.0
// access token. An unknown mechanism is a failure.Usage error that lists the
// supported ones.
func SASL(mech, user, secret string) (sasl.Client, error) {
	switch strings.ToUpper(strings.TrimSpace(mech)) {
	case MechPlain:
		return sasl.NewPlainClient("", user, secret), nil
	case MechLogin:
		return &loginClient{user: user, password: secret}, nil
	case MechCRAMMD5:
		return &cramMD5Client{user: user, secret: secret}, nil
	case MechXOAuth2:
		return &xoauth2Client{user: user, token: secret}, nil
	case MechOAuthBearer:
		return &oauthBearerClient{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: secret})}, nil
	}
	return nil, failure.Wrap(failure.Usage, fmt.Errorf("unknown SASL mechanism %q: want one of %s", mech, strings.Join(mechanisms, ", ")))
}

// CheckAuth refuses to log in with mech when the connection is not
// encrypted and mech would show the credentials to an eavesdropper, unless
// AllowPlaintextAuth (DESIGN invariant 6). mech is a SASL mechanism or one of
// the protocols' own commands: "USER" (POP3 USER/PASS), "APOP", "LOGIN"
// (IMAP LOGIN, like SASL LOGIN). Only CRAM-MD5 and APOP keep the secret to
// themselves; any other name, known or not, is assumed to show it. The error
// is failure.Usage and says how to proceed.
func (s Security) CheckAuth(mech string, encrypted bool) error {
	if encrypted || s.AllowPlaintextAuth {
		return nil
	}
	switch strings.ToUpper(strings.TrimSpace(mech)) {
	case MechCRAMMD5, "APOP":
		return nil
	}
	return failure.Wrap(failure.Usage, fmt.Errorf("refusing to send credentials with %s over a connection without TLS: use --tls implicit or starttls, or --allow-plaintext to send them anyway", strings.ToUpper(mech)))
}

// loginClient is the LOGIN mechanism (draft-murchison-sasl-login). go-sasl's
// answers nothing but a "Password:" challenge; servers prompt "Username:",
// "User Name", "username:" and the like. The prompts are answered by what
// they ask, and unknown prompts by their order (user name first), as the
// draft says they carry no meaning.
type loginClient struct {
	user, password   string
	sentUser, sentPW bool
}

func (c *loginClient) Start() (string, []byte, error) {
	// No initial response: some servers do not take one for LOGIN, and all
	// prompt for the user name when none came.
	return MechLogin, nil, nil
}

func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	if c.sentPW {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	prompt := strings.ToLower(string(challenge))
	askUser := strings.Contains(prompt, "user")
	askPW := strings.Contains(prompt, "pass")
	if askPW || (!askUser && c.sentUser) {
		c.sentPW = true
		return []byte(c.password), nil
	}
	c.sentUser = true
	return []byte(c.user), nil
}

// cramMD5Client is CRAM-MD5 (RFC 2195): the response is the user name and
// the hex HMAC-MD5 of the server's challenge keyed with the password.
type cramMD5Client struct {
	user, secret string
	answered     bool
}

func (c *cramMD5Client) Start() (string, []byte, error) {
	return MechCRAMMD5, nil, nil
}

func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	c.answered = true
	mac := hmac.New(md5.New, []byte(c.secret))
	mac.Write(challenge)
	return []byte(c.user + " " + hex.EncodeToString(mac.Sum(nil))), nil
}

// xoauth2Client is Google's and Microsoft's XOAUTH2: everything is in the
// initial response. A failure comes as a challenge holding a JSON error;
// the client must answer it with an empty response, and the server then
// ends the exchange with its failure reply.
type xoauth2Client struct {
	user, token string
	answered    bool
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return MechXOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	c.answered = true
	return []byte{}, nil
}

// oauthBearerClient is go-sasl's OAUTHBEARER (RFC 7628) with the failure
// exchange completed. go-sasl's client returns an error on the server's
// JSON error challenge; imapclient then returns without answering, leaving
// the server waiting for a response in the middle of the command. RFC 7628
// §3.2.3 has the client answer with a single %x01 so that the server can
// send its failure reply, which is what the user then sees.
type oauthBearerClient struct {
	sasl.Client
	answered bool
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, errors.New("sasl: OAUTHBEARER: unexpected second server challenge")
	}
	c.answered = true
	return []byte{0x01}, nil
}
