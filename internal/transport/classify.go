package transport

import (
	"errors"
	"io"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Classify gives an error from a connection its failure kind, the one rule
// for both protocols: an error that has a kind keeps it (failure.KindOf:
// one wrapped by failure.Wrap, or one it recognises, such as a timeout, a
// reset, a refused connection or any net.Error, all Temporary); a
// connection the server closed (io.EOF, io.ErrUnexpectedEOF) is
// failure.Temporary, since a later run may find the server well. Anything
// else is returned as it is (failure.Other): each protocol adds its own
// reply codes before or after (POP3 -ERR [IN-USE], IMAP NO [UNAVAILABLE])
// and its own default. The message is unchanged.
//
// The IMAP engine's classify keeps its default on top of it: what is left
// unclassified is Temporary (go-imap reports a cut connection as assorted
// parse errors), i.e.
//
//	if c := transport.Classify(err); failure.KindOf(c) != failure.Other { return c }
//	return failure.Wrap(failure.Temporary, err)
func Classify(err error) error {
	if err == nil || failure.KindOf(err) != failure.Other {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return failure.Wrap(failure.Temporary, err)
	}
	return err
}
