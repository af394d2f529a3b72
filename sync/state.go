package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mailfetch/mailfetch/maildir"
)

// stateVersion is the number of the V record. A journal of a later version
// is refused rather than misread: a misread record could make a run remove
// a local message it never delivered. Version 1 (no B record, R without a
// key) is read and rewritten as version 2.
const stateVersion = 2

// mdaUnique stands for "no file" in M and P records: a message handed to an
// MDA leaves nothing that a later run could find.
const mdaUnique = "-"

// msgRecord is what the state knows of one server message: the local file
// it was delivered to and the three-way merge base of its flags.
type msgRecord struct {
	unique string        // unique name in the local folder; mdaUnique for an MDA delivery
	flags  maildir.Flags // synced flags (DFRST) as both sides last agreed
	size   int64         // RFC822.SIZE on the server: a key for re-matching
	// localGone: the local file was removed by the user; the message stays
	// on the server (unless ExpungeRemote) and is never fetched again.
	localGone bool
	// goneKey identifies a localGone message by content (see matchKey):
	// it lets the deletion survive a UIDVALIDITY change. "" when unknown.
	goneKey string
}

// statusMark is what STATUS said of the folder when a sync of it last
// completed: if STATUS still says the same and nothing changed locally, the
// folder needs no SELECT.
type statusMark struct {
	valid         bool
	uidValidity   uint32
	uidNext       UID
	messages      uint32
	highestModSeq uint64
}

// folderState is one folder's state, as replayed from its journal.
type folderState struct {
	name string // server name
	// identity is the maildir identity of the local folder this state
	// describes (maildir.IDFile); "" when none was recorded yet (a version
	// 1 state, a new one, an MDA).
	identity    string
	uidValidity uint32
	// last: every server UID <= last is known (msgs/pending) or was dropped
	// on purpose; new messages are the UIDs above it not known yet.
	last     UID
	modSeq   uint64 // HIGHESTMODSEQ whose changes are merged: CHANGEDSINCE base
	status   statusMark
	vanished bool // the folder was missing on the server (noticed once)
	msgs     map[UID]*msgRecord
	pending  map[UID]*msgRecord // delivered maybe: resolved on load
}

func newFolderState(name string) *folderState {
	return &folderState{name: name, msgs: map[UID]*msgRecord{}, pending: map[UID]*msgRecord{}}
}

// known reports whether uid is delivered or in doubt.
func (s *folderState) known(uid UID) bool {
	return s.msgs[uid] != nil || s.pending[uid] != nil
}

// Record kinds, the first field of a record. See the package comment.
const (
	recVersion  = "V" // V <version>
	recName     = "N" // N <folder name>
	recValidity = "U" // U <uidvalidity>
	recLast     = "L" // L <uid>
	recModSeq   = "Q" // Q <modseq>
	recStatus   = "S" // S <uidvalidity> <uidnext> <messages> <highestmodseq> | S -
	recVanished = "G" // G 0|1
	recMessage  = "M" // M <uid> <unique> <flags> <size>
	recPending  = "P" // P <uid> <unique> <flags> <size>
	recDone     = "D" // D <uid>
	recFlags    = "F" // F <uid> <flags>
	recForget   = "X" // X <uid>
	recLocalDel = "R" // R <uid> [<key>]
	recIdentity = "B" // B <maildir identity>
)

// encodeFlags spells a flag set as a field: "-" when empty.
func encodeFlags(f maildir.Flags) string {
	if f == "" {
		return "-"
	}
	return string(f)
}

func decodeFlags(s string) (maildir.Flags, error) {
	if s == "-" {
		return "", nil
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(syncedFlags, rune(s[i])) {
			return "", fmt.Errorf("flag %q", s[i])
		}
	}
	f := maildir.ParseFlags(s)
	if string(f) != s {
		return "", fmt.Errorf("flags %q not canonical", s)
	}
	return f, nil
}

// parseNum parses a decimal without sign or leading zeros.
func parseNum(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return strconv.ParseUint(s, 10, bits)
}

func parseUID(s string) (UID, error) {
	n, err := parseNum(s, 32)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("UID 0")
	}
	return UID(n), nil
}

func parseSize(s string) (int64, error) {
	n, err := parseNum(s, 63)
	return int64(n), err
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
func u64(v uint64) string { return strconv.FormatUint(v, 10) }
func uidStr(u UID) string {
	return strconv.FormatUint(uint64(u), 10)
}

// Record constructors: each returns one journal record (no newline).
func recV() []byte            { return []byte(recVersion + " " + strconv.Itoa(stateVersion)) }
func recN(name string) []byte { return []byte(recName + " " + maildir.EncodeField(name)) }
func recU(v uint32) []byte    { return []byte(recValidity + " " + u32(v)) }
func recL(u UID) []byte       { return []byte(recLast + " " + uidStr(u)) }
func recQ(m uint64) []byte    { return []byte(recModSeq + " " + u64(m)) }
func recX(u UID) []byte       { return []byte(recForget + " " + uidStr(u)) }
func recR(u UID, key string) []byte {
	if key == "" {
		return []byte(recLocalDel + " " + uidStr(u))
	}
	return []byte(recLocalDel + " " + uidStr(u) + " " + key)
}
func recB(id string) []byte { return []byte(recIdentity + " " + id) }
func recD(u UID) []byte     { return []byte(recDone + " " + uidStr(u)) }
func recG(gone bool) []byte {
	if gone {
		return []byte(recVanished + " 1")
	}
	return []byte(recVanished + " 0")
}
func recF(u UID, f maildir.Flags) []byte {
	return []byte(recFlags + " " + uidStr(u) + " " + encodeFlags(f))
}
func recMsg(kind string, u UID, m *msgRecord) []byte {
	return []byte(kind + " " + uidStr(u) + " " + maildir.EncodeField(m.unique) + " " + encodeFlags(m.flags) + " " + strconv.FormatInt(m.size, 10))
}
func recS(m statusMark) []byte {
	if !m.valid {
		return []byte(recStatus + " -")
	}
	return []byte(recStatus + " " + u32(m.uidValidity) + " " + uidStr(m.uidNext) + " " + u32(m.messages) + " " + u64(m.highestModSeq))
}

// recordFields is the number of fields of each kind of record but S
// (which has 2 or 5) and R (2 or 3).
var recordFields = map[string]int{
	recVersion: 2, recName: 2, recValidity: 2, recLast: 2, recModSeq: 2, recVanished: 2,
	recMessage: 5, recPending: 5, recDone: 2, recFlags: 3, recForget: 2, recIdentity: 2,
}

// applyRecord replays one record onto s.
func (s *folderState) applyRecord(rec []byte) error {
	fields := strings.Split(string(rec), " ")
	if err := checkFields(fields); err != nil {
		return err
	}
	switch kind := fields[0]; kind {
	case recVersion:
		v, err := parseNum(fields[1], 31)
		if err != nil {
			return err
		}
		if v < 1 || v > stateVersion {
			return fmt.Errorf("state version %d, this mailfetch reads 1 to %d", v, stateVersion)
		}
	case recIdentity:
		if !validIdentity(fields[1]) {
			return fmt.Errorf("record B: bad identity %q", truncate(fields[1], 40))
		}
		s.identity = fields[1]
	case recName:
		name, err := maildir.DecodeField(fields[1])
		if err != nil {
			return err
		}
		s.name = name
	case recValidity, recLast, recModSeq, recVanished:
		return s.applyNumber(kind, fields[1])
	case recStatus:
		return s.applyStatus(fields)
	case recMessage, recPending:
		return s.applyMessage(kind, fields)
	case recDone, recForget, recLocalDel, recFlags:
		return s.applyToUID(kind, fields)
	}
	return nil
}

// checkFields checks that a record is of a known kind and has as many
// fields as its kind has.
func checkFields(fields []string) error {
	kind := fields[0]
	switch {
	case kind == recStatus:
		if len(fields) != 2 && len(fields) != 5 {
			return fmt.Errorf("record %q: %d fields", kind, len(fields))
		}
	case kind == recLocalDel:
		if len(fields) != 2 && len(fields) != 3 {
			return fmt.Errorf("record %q: %d fields", kind, len(fields))
		}
	default:
		if n, ok := recordFields[kind]; !ok {
			return fmt.Errorf("unknown record %q", kind)
		} else if len(fields) != n {
			return fmt.Errorf("record %q: %d fields, want %d", kind, len(fields), n)
		}
	}
	return nil
}

// applyNumber replays the records of one number: U, L, Q and G.
func (s *folderState) applyNumber(kind, field string) error {
	switch kind {
	case recValidity:
		v, err := parseNum(field, 32)
		if err != nil {
			return err
		}
		s.uidValidity = uint32(v)
	case recLast:
		if field == "0" {
			s.last = 0
			return nil
		}
		u, err := parseUID(field)
		if err != nil {
			return err
		}
		s.last = u
	case recModSeq:
		v, err := parseNum(field, 64)
		if err != nil {
			return err
		}
		s.modSeq = v
	case recVanished:
		switch field {
		case "0":
			s.vanished = false
		case "1":
			s.vanished = true
		default:
			return fmt.Errorf("record G: %q", field)
		}
	}
	return nil
}

// applyStatus replays an S record.
func (s *folderState) applyStatus(fields []string) error {
	if len(fields) == 2 {
		if fields[1] != "-" {
			return fmt.Errorf("record S: %q", fields[1])
		}
		s.status = statusMark{}
		return nil
	}
	var nums [4]uint64
	for i, bits := range []int{32, 32, 32, 64} {
		v, err := parseNum(fields[i+1], bits)
		if err != nil {
			return err
		}
		nums[i] = v
	}
	s.status = statusMark{valid: true, uidValidity: uint32(nums[0]), uidNext: UID(nums[1]),
		messages: uint32(nums[2]), highestModSeq: nums[3]}
	return nil
}

// applyMessage replays an M or P record.
func (s *folderState) applyMessage(kind string, fields []string) error {
	u, err := parseUID(fields[1])
	if err != nil {
		return err
	}
	unique, err := maildir.DecodeField(fields[2])
	if err != nil {
		return err
	}
	if unique == "" || strings.ContainsAny(unique, "/\x00") {
		return fmt.Errorf("record %s: bad unique name %q", kind, unique)
	}
	flags, err := decodeFlags(fields[3])
	if err != nil {
		return err
	}
	size, err := parseSize(fields[4])
	if err != nil {
		return err
	}
	m := &msgRecord{unique: unique, flags: flags, size: size}
	if kind == recMessage {
		s.msgs[u] = m
		delete(s.pending, u)
	} else {
		s.pending[u] = m
	}
	return nil
}

// applyToUID replays the records that change what is known of a UID:
// D, X, R and F.
func (s *folderState) applyToUID(kind string, fields []string) error {
	u, err := parseUID(fields[1])
	if err != nil {
		return err
	}
	switch kind {
	case recDone:
		if p := s.pending[u]; p != nil {
			s.msgs[u] = p
			delete(s.pending, u)
		}
	case recForget:
		delete(s.msgs, u)
		delete(s.pending, u)
	case recLocalDel:
		key := ""
		if len(fields) == 3 {
			if key = fields[2]; !validMatchKey(key) {
				return fmt.Errorf("record R: bad key %q", truncate(key, 40))
			}
		}
		if m := s.msgs[u]; m != nil {
			m.localGone = true
			if key != "" {
				m.goneKey = key
			}
		}
	case recFlags:
		flags, err := decodeFlags(fields[2])
		if err != nil {
			return err
		}
		if m := s.msgs[u]; m != nil {
			m.flags = flags
		}
	}
	return nil
}

// parseState replays a journal's records. The first must be the version.
func parseState(name string, recs [][]byte) (*folderState, error) {
	s := newFolderState(name)
	for i, rec := range recs {
		if i == 0 && !strings.HasPrefix(string(rec), recVersion+" ") {
			return nil, fmt.Errorf("record 1: %q: not a mailfetch IMAP state (no version record)", truncate(string(rec), 40))
		}
		if err := s.applyRecord(rec); err != nil {
			return nil, fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	if len(recs) > 0 && s.name != name {
		return nil, fmt.Errorf("state is of folder %q, not %q", s.name, name)
	}
	return s, nil
}

// snapshot is the compacted form of s: what Journal.Rewrite replaces the
// journal with at the end of a folder's sync.
func (s *folderState) snapshot() [][]byte {
	recs := [][]byte{recV(), recN(s.name), recU(s.uidValidity), recL(s.last), recQ(s.modSeq), recS(s.status)}
	if s.identity != "" {
		recs = append(recs, recB(s.identity))
	}
	if s.vanished {
		recs = append(recs, recG(true))
	}
	uids := make([]UID, 0, len(s.msgs))
	for u := range s.msgs {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	for _, u := range uids {
		m := s.msgs[u]
		recs = append(recs, recMsg(recMessage, u, m))
		if m.localGone {
			recs = append(recs, recR(u, m.goneKey))
		}
	}
	uids = uids[:0]
	for u := range s.pending {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	for _, u := range uids {
		recs = append(recs, recMsg(recPending, u, s.pending[u]))
	}
	return recs
}

// stateFileName is the journal's file name for a folder: the name with
// every byte outside [A-Za-z0-9_-] (and a '.' not in front) as %XX, so
// that names never clash and never leave the directory; long names end in
// a hash instead.
func stateFileName(folder string) string {
	var b strings.Builder
	for i := 0; i < len(folder); i++ {
		c := folder[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	name := b.String()
	if len(name) > 180 {
		sum := sha256.Sum256([]byte(folder))
		name = name[:140] + "~" + hex.EncodeToString(sum[:16])
	}
	return name + ".journal"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// parseStateAny replays records whatever folder they are of.
func parseStateAny(recs [][]byte) (*folderState, error) {
	s := newFolderState("")
	for i, rec := range recs {
		if i == 0 && !strings.HasPrefix(string(rec), recVersion+" ") {
			return nil, errors.New("no version record")
		}
		if err := s.applyRecord(rec); err != nil {
			return nil, fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	return s, nil
}

// validIdentity reports whether s is a maildir identity as IDFile holds
// it: 32 lower-case hex digits.
func validIdentity(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
