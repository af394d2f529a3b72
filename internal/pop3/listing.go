package pop3

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// MsgInfo is one entry of a LIST reply (a "scan listing", RFC 1939 §5).
type MsgInfo struct {
	Num  int   // message number in this session, from 1
	Size int64 // size in octets as the server counts it (with CRLF line endings)
}

// MsgUID is one entry of a UIDL reply (RFC 1939 §7).
type MsgUID struct {
	Num int    // message number in this session, from 1
	UID string // 1 to 70 characters in 0x21..0x7E, stable across sessions
}

// maxUIDLen is RFC 1939's bound on a unique-id.
const maxUIDLen = 70

// parseMsgNum parses a message number: decimal digits only, 1..MaxInt32.
func parseMsgNum(b []byte) (int, error) {
	n, err := parseDigits(b, math.MaxInt32)
	if err != nil {
		return 0, fmt.Errorf("message number %s: %w", quote(b), err)
	}
	if n == 0 {
		return 0, fmt.Errorf("message number 0")
	}
	return int(n), nil
}

// parseSize parses an octet count: decimal digits only, 0..MaxInt64.
func parseSize(b []byte) (int64, error) {
	n, err := parseDigits(b, math.MaxInt64)
	if err != nil {
		return 0, fmt.Errorf("size %s: %w", quote(b), err)
	}
	return n, nil
}

// parseDigits accepts only ASCII digits: no sign, no spaces, no "0x", which
// strconv would otherwise take or report less clearly.
func parseDigits(b []byte, max int64) (int64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("not a number")
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("out of range")
	}
	return n, nil
}

// parseScanListing parses "msg-number SP size" and ignores anything after
// another SP (RFC 1939 §5 lets servers add information there).
func parseScanListing(line []byte) (MsgInfo, error) {
	num, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return MsgInfo{}, fmt.Errorf("scan listing %s: want \"number size\"", quote(line))
	}
	size, _, _ := bytes.Cut(rest, []byte(" "))
	n, err := parseMsgNum(num)
	if err != nil {
		return MsgInfo{}, err
	}
	s, err := parseSize(size)
	if err != nil {
		return MsgInfo{}, err
	}
	return MsgInfo{Num: n, Size: s}, nil
}

// parseUIDListing parses "msg-number SP unique-id", strictly: a unique-id
// cannot contain a space, so anything more is an error rather than a UID
// silently cut short.
func parseUIDListing(line []byte) (MsgUID, error) {
	num, uid, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return MsgUID{}, fmt.Errorf("unique-id listing %s: want \"number uid\"", quote(line))
	}
	n, err := parseMsgNum(num)
	if err != nil {
		return MsgUID{}, err
	}
	if err := checkUID(uid); err != nil {
		return MsgUID{}, err
	}
	return MsgUID{Num: n, UID: string(uid)}, nil
}

func checkUID(uid []byte) error {
	if len(uid) == 0 || len(uid) > maxUIDLen {
		return fmt.Errorf("unique-id %s: length %d not in 1..%d", quote(uid), len(uid), maxUIDLen)
	}
	for _, c := range uid {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("unique-id %s: character %#02x not in 0x21..0x7E", quote(uid), c)
		}
	}
	return nil
}

// listParser validates and collects the lines of a LIST reply.
type listParser struct {
	list []MsgInfo
	seen map[int]bool
}

func (p *listParser) add(line []byte) error {
	m, err := parseScanListing(line)
	if err != nil {
		return fmt.Errorf("line %d: %w", len(p.list)+1, err)
	}
	if p.seen == nil {
		p.seen = map[int]bool{}
	}
	if p.seen[m.Num] {
		return fmt.Errorf("line %d: message %d listed twice", len(p.list)+1, m.Num)
	}
	p.seen[m.Num] = true
	p.list = append(p.list, m)
	return nil
}

// uidlParser validates and collects the lines of a UIDL reply. A UID listed
// twice is an error: two messages that claim one identity would make a
// fetcher skip or delete the wrong one.
type uidlParser struct {
	list    []MsgUID
	seenNum map[int]bool
	seenUID map[string]int
}

func (p *uidlParser) add(line []byte) error {
	m, err := parseUIDListing(line)
	if err != nil {
		return fmt.Errorf("line %d: %w", len(p.list)+1, err)
	}
	if p.seenNum == nil {
		p.seenNum, p.seenUID = map[int]bool{}, map[string]int{}
	}
	if p.seenNum[m.Num] {
		return fmt.Errorf("line %d: message %d listed twice", len(p.list)+1, m.Num)
	}
	if prev, dup := p.seenUID[m.UID]; dup {
		return fmt.Errorf("line %d: unique-id %q of message %d is also that of message %d", len(p.list)+1, m.UID, m.Num, prev)
	}
	p.seenNum[m.Num] = true
	p.seenUID[m.UID] = m.Num
	p.list = append(p.list, m)
	return nil
}

// parseStat parses the text of a STAT reply: "nn mm", anything after another
// SP ignored.
func parseStat(text []byte) (count int, size int64, err error) {
	num, rest, ok := bytes.Cut(text, []byte(" "))
	if !ok {
		return 0, 0, fmt.Errorf("drop listing %s: want \"count size\"", quote(text))
	}
	sz, _, _ := bytes.Cut(rest, []byte(" "))
	c, err := parseDigits(num, math.MaxInt32)
	if err != nil {
		return 0, 0, fmt.Errorf("message count %s: %w", quote(num), err)
	}
	s, err := parseSize(sz)
	if err != nil {
		return 0, 0, err
	}
	return int(c), s, nil
}
