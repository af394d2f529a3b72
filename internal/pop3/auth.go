package pop3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
)

// STLS upgrades the session to TLS (RFC 2595 §4). After the server's +OK it
// calls upgrade with the connection; upgrade performs the TLS handshake (and
// certificate checks) and returns the connection to use from then on — the
// same one when it upgrades in place, as transport.Conn.StartTLS does.
//
// Bytes received after the +OK but before the handshake are refused: a
// man-in-the-middle can inject them in plaintext to be read later as if they
// came over TLS (the STARTTLS command-injection attack, CVE-2011-0411 and
// kin). The Client forgets the capabilities it knew: ask CAPA again.
func (c *Client) STLS(ctx context.Context, upgrade func(net.Conn) (net.Conn, error)) error {
	const shown = "STLS"
	if err := c.begin(ctx, shown); err != nil {
		return err
	}
	defer c.end()
	if err := c.send(shown, shown); err != nil {
		return err
	}
	st, err := c.readStatus(shown)
	if err != nil {
		return err
	}
	if !st.ok {
		return st.asError(shown)
	}
	if n := c.lr.br.Buffered(); n > 0 {
		return c.fail(shown, protoErrorf("server sent %d bytes after +OK, before the TLS handshake (STARTTLS injection?)", n))
	}
	nc, err := upgrade(c.conn)
	if err == nil && nc == nil {
		err = errors.New("upgrade returned no connection")
	}
	if err != nil {
		if ctxErr := c.guard.ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		c.broken = fmt.Errorf("pop3: %s: %w", shown, err)
		return c.broken
	}
	c.conn = nc
	c.guard.conn = nc
	c.lr.br.Reset(&c.guard)
	c.out.Reset(&c.guard)
	c.capsKnown, c.authCaps = false, nil
	return nil
}

// APOP logs in with the APOP command (RFC 1939 §7): the MD5 digest of the
// greeting's timestamp and the shared secret, so the secret itself never
// crosses the wire. Errors show the command as "APOP", without the user
// name or digest.
func (c *Client) APOP(ctx context.Context, user, secret string) error {
	const shown = "APOP"
	if c.timestamp == "" {
		return fmt.Errorf("pop3: %s: the server's greeting has no APOP timestamp", shown)
	}
	if err := checkArg(shown, "user name", user); err != nil {
		return err
	}
	if strings.Contains(user, " ") {
		return fmt.Errorf("pop3: %s: user name contains a space", shown)
	}
	sum := md5.Sum([]byte(c.timestamp + secret))
	if _, err := c.simple(ctx, "APOP "+user+" "+hex.EncodeToString(sum[:]), shown); err != nil {
		return err
	}
	c.loggedIn()
	return nil
}

// maxAuthLine is RFC 5034 §4's bound on the AUTH command line with an
// initial response; a longer initial response waits for the first (empty)
// challenge instead.
const maxAuthLine = 255

// maxAuthRounds bounds the challenges a server may send, so a hostile one
// cannot keep the client answering forever.
const maxAuthRounds = 32

// Auth logs in with SASL (RFC 5034): it sends the mechanism's initial
// response on the AUTH line when there is one ("=" for an empty one), answers
// base64 challenges, and cancels with "*" when the mechanism fails or a
// challenge is not valid base64. Errors show the command as "AUTH <MECH>".
// A refusal is classified failure.Auth, or failure.Temporary for IN-USE,
// LOGIN-DELAY and SYS/TEMP.
func (c *Client) Auth(ctx context.Context, mech sasl.Client) error {
	name, ir, err := mech.Start()
	if err != nil {
		return fmt.Errorf("pop3: AUTH: %w", err)
	}
	name = strings.ToUpper(name)
	if !validMechName(name) {
		return fmt.Errorf("pop3: AUTH: invalid mechanism name %q", name)
	}
	shown := "AUTH " + name
	if err := c.begin(ctx, shown); err != nil {
		return err
	}
	defer c.end()

	line := shown
	var pendingIR []byte // an initial response too long for the AUTH line
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		if len(line)+1+len(enc)+2 <= maxAuthLine {
			line += " " + enc
		} else {
			pendingIR = ir
		}
	}
	if err := c.send(shown, line); err != nil {
		return err
	}
	for round := 0; ; round++ {
		raw, err := c.lr.readLine()
		if err != nil {
			return c.fail(shown, err)
		}
		if challenge, ok := isChallenge(raw); ok {
			if round >= maxAuthRounds {
				return c.cancelAuth(shown, fmt.Errorf("more than %d challenges", maxAuthRounds))
			}
			var resp []byte
			if pendingIR != nil {
				// RFC 5034 §4: the server answers a bare AUTH with an
				// empty challenge, which the initial response answers.
				if len(challenge) != 0 {
					return c.cancelAuth(shown, errors.New("non-empty first challenge to an AUTH without initial response"))
				}
				resp, pendingIR = pendingIR, nil
			} else {
				decoded, err := decodeChallenge(challenge)
				if err != nil {
					return c.cancelAuth(shown, err)
				}
				if resp, err = mech.Next(decoded); err != nil {
					return c.cancelAuth(shown, err)
				}
			}
			if err := c.send(shown, base64.StdEncoding.EncodeToString(resp)); err != nil {
				return err
			}
			continue
		}
		st, err := parseStatus(raw)
		if err != nil {
			return c.fail(shown, err)
		}
		if !st.ok {
			return st.asError(shown)
		}
		c.loggedIn()
		return nil
	}
}

// isChallenge recognises a continuation line, "+" [SP base64] (RFC 5034 §4),
// as distinct from "+OK".
func isChallenge(line []byte) ([]byte, bool) {
	switch {
	case len(line) == 1 && line[0] == '+':
		return nil, true
	case len(line) >= 2 && line[0] == '+' && line[1] == ' ':
		return line[2:], true
	}
	return nil, false
}

// decodeChallenge decodes base64, with or without padding (some servers
// omit it).
func decodeChallenge(b []byte) ([]byte, error) {
	s := strings.TrimRight(string(b), " ")
	if d, err := base64.StdEncoding.DecodeString(s); err == nil {
		return d, nil
	}
	d, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("challenge is not base64: %s", quote(b))
	}
	return d, nil
}

// cancelAuth sends "*" and reads the server's reply to it, which should be
// -ERR, so that the session stays usable; it returns cause.
func (c *Client) cancelAuth(shown string, cause error) error {
	if err := c.send(shown, "*"); err != nil {
		return err
	}
	raw, err := c.lr.readLine()
	if err != nil {
		return c.fail(shown, err)
	}
	st, err := parseStatus(raw)
	if err == nil && st.ok {
		err = protoErrorf("server accepted a cancelled authentication")
	}
	if err != nil {
		return c.fail(shown, err)
	}
	return fmt.Errorf("pop3: %s: cancelled: %w", shown, cause)
}

// validMechName checks an RFC 4422 §3.1 mechanism name: 1 to 20 of
// A-Z, 0-9, '-', '_'.
func validMechName(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
