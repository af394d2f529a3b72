package sync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// A match key identifies a message by its content where its UID cannot:
// it lets a local deletion (an R record) outlive a UIDVALIDITY change,
// when the file it could be matched with is gone. It is "m" and 24 hex
// digits of the SHA-256 of the message's Message-ID (normalized: white
// space removed, one pair of angle brackets dropped), or, for a message
// without one, "h" and 24 hex digits of the SHA-256 of its header (up to
// 64 KiB, with LF line ends). Together with the size recorded in the M
// record it finds the message again among a folder's new UIDs.

// matchKeyLen is the length of a key: a letter and 12 bytes in hex.
const matchKeyLen = 1 + 24

// matchKeyOf returns the key of a message from its header as the server
// sends it (CRLF or LF line ends).
func matchKeyOf(header []byte) string {
	if id := headerMessageID(bytes.NewReader(header)); id != "" {
		return "m" + digest24(canonicalMessageID(id))
	}
	return "h" + digest24(string(bytes.ReplaceAll(header, []byte("\r\n"), []byte("\n"))))
}

// canonicalMessageID is a Message-ID without white space and without one
// pair of enclosing angle brackets.
func canonicalMessageID(id string) string {
	id = strings.Join(strings.Fields(id), "")
	if strings.HasPrefix(id, "<") && strings.HasSuffix(id, ">") && len(id) >= 2 {
		id = id[1 : len(id)-1]
	}
	return id
}

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
