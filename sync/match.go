package sync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	"github.com/mailfetch/mailfetch/maildir"
)

// A match key identifies a message by its content where its UID cannot:
// it lets a local deletion (an R record) outlive a UIDVALIDITY change,
// when the file it could be matched with is gone. It is "m" and 24 hex
// digits of the SHA-256 of the message's Message-ID (as
// maildir.NormalizeMessageID gives it), or, for a message without one,
// "h" and the first 24 hex digits of maildir.HeaderKey's header digest
// (of the header read up to 64 KiB). Together with the size recorded in
// the M record it finds the message again among a folder's new UIDs.

// matchKeyLen is the length of a key: a letter and 12 bytes in hex.
const matchKeyLen = 1 + 24

// matchKeyOf returns the key of a message from its header as the server
// sends it (CRLF or LF line ends), as maildir.ReadHeaderKey reads it.
func matchKeyOf(header []byte) string {
	hk, _ := maildir.ReadHeaderKey(bytes.NewReader(header))
	if hk.MessageID != "" {
		return messageIDKey(hk.MessageID)
	}
	return "h" + hex.EncodeToString(hk.Digest[:12])
}

// messageIDKey is the key of a message with the (normalized) Message-ID id.
func messageIDKey(id string) string { return "m" + digest24(id) }

func digest24(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

// validMatchKey reports whether s is a key as matchKeyOf makes them.
func validMatchKey(s string) bool {
	if len(s) != matchKeyLen || (s[0] != 'm' && s[0] != 'h') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
