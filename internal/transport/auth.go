package transport

import "strings"

// LoginOffer is what a server offers for logging in with a password, and
// what the connection allows: the input of "auto"'s choice (AutoLogin).
type LoginOffer struct {
	// SASL lists the SASL mechanisms the server advertises (POP3 CAPA
	// SASL, IMAP AUTH=), in any case.
	SASL []string
	// Command is the protocol's own plain-text login, as its name ("USER"
	// for POP3 USER/PASS, "LOGIN" for IMAP LOGIN); "" when the server
	// refuses it (IMAP LOGINDISABLED).
	Command string
	// Digest is the protocol's own challenge-response login ("APOP" when
	// a POP3 greeting has a timestamp); "" when there is none.
	Digest string
	// Protected: the connection keeps credentials from eavesdroppers: it
	// has TLS, or the user allowed plain text (AllowPlaintextAuth).
	Protected bool
}

// AutoOrder is a protocol's order of preference for "auto": entries are
// SASL mechanism names, or UseCommand and UseDigest for the protocol's
// own logins; Protected applies over a protected connection, Unprotected
// over one that is not.
type AutoOrder struct{ Protected, Unprotected []string }

// The protocol's own logins in an AutoOrder.
const (
	UseCommand = "+command" // LoginOffer.Command
	UseDigest  = "+digest"  // LoginOffer.Digest
)

// The orders of the two protocols. One rule chooses for both (AutoLogin);
// these tables are where they differ, side by side:
//
//   - POP3: with TLS (or plain text allowed) PLAIN first (the channel
//     protects it, and the server may store only a hash), then CRAM-MD5,
//     then SASL LOGIN (obsolete, with unstandardized prompts), then
//     USER/PASS; without, only what keeps the password to itself,
//     CRAM-MD5, then APOP, and else USER/PASS, which CheckAuth then
//     refuses with advice.
//   - IMAP: PLAIN if offered, else the LOGIN command unless
//     LOGINDISABLED, whatever the connection (without TLS CheckAuth then
//     refuses either). That is the IMAP engine's rule as it stands,
//     reproduced exactly so that it can take AutoLogin without a change
//     of behaviour; giving it POP3's shape (CRAM-MD5 where nothing
//     protects a password) would be a change of its own.
//
// Token mechanisms (XOAUTH2, OAUTHBEARER) are never chosen: they need a
// token, not a password, and are asked for by name.
var (
	POP3Auto = AutoOrder{
		Protected:   []string{MechPlain, MechCRAMMD5, MechLogin, UseCommand},
		Unprotected: []string{MechCRAMMD5, UseDigest, UseCommand},
	}
	IMAPAuto = AutoOrder{
		Protected:   []string{MechPlain, UseCommand},
		Unprotected: []string{MechPlain, UseCommand},
	}
)

// AutoLogin is "auto"'s choice of how to log in with a password, the one
// for both protocols: the first entry of order (its Protected or its
// Unprotected list, as the connection is) that the server offers. It
// returns a SASL mechanism's name (upper case, own false) or the offer's
// Command or Digest (own true); ok is false when nothing on the list is
// offered.
func AutoLogin(o LoginOffer, order AutoOrder) (name string, own, ok bool) {
	list := order.Unprotected
	if o.Protected {
		list = order.Protected
	}
	for _, want := range list {
		switch want {
		case UseCommand:
			if o.Command != "" {
				return o.Command, true, true
			}
		case UseDigest:
			if o.Digest != "" {
				return o.Digest, true, true
			}
		default:
			for _, m := range o.SASL {
				if strings.EqualFold(strings.TrimSpace(m), want) {
					return want, false, true
				}
			}
		}
	}
	return "", false, false
}
