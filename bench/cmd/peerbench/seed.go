package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/mailfetch/mailfetch/internal/dovetest"
)

const flagged = `\Flagged`

// seed fills mailbox m on the server and learns what the checks need.
func (b *bench) seed(m *mailbox) error {
	s := b.server
	if m.bigBytes > 0 {
		return s.Seed(m.user, "INBOX", []dovetest.Message{{Raw: bigMessage(m.bigBytes)}})
	}
	for i, f := range m.folders {
		if err := s.SeedGenerated(m.user, f, m.seedBase+int64(i), m.perFolder); err != nil {
			return err
		}
	}
	if !slices.ContainsFunc(b.cells, func(c *cell) bool { return c.box == m && c.proto == "imap" }) {
		return nil
	}
	// The changed phase flags changeCount messages that are not flagged
	// yet, spread over the folders.
	m.toFlag = map[string][]uint32{}
	m.flagged = 0
	for i, f := range m.folders {
		fl, err := s.Flags(m.user, f)
		if err != nil {
			return err
		}
		if len(fl) != m.perFolder {
			return fmt.Errorf("%s %s holds %d messages after seeding, want %d", m.user, f, len(fl), m.perFolder)
		}
		uids := sortedUIDs(fl)
		want := share(changeCount, len(m.folders), i)
		for _, uid := range uids {
			if slices.Contains(fl[uid], flagged) {
				m.flagged++
			} else if len(m.toFlag[f]) < want {
				m.toFlag[f] = append(m.toFlag[f], uid)
			}
		}
		// A tiny folder (a quick run) may have fewer unflagged messages;
		// the changed phase then flags fewer.
		m.flagChanges += len(m.toFlag[f])
	}
	return nil
}

// share is folder i's part of total spread over n folders.
func share(total, n, i int) int {
	k := total / n
	if i < total%n {
		k++
	}
	return k
}

func sortedUIDs(fl map[uint32][]string) []uint32 {
	uids := make([]uint32, 0, len(fl))
	for uid := range fl {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	return uids
}

func uidSet(uids []uint32) string {
	s := make([]string, len(uids))
	for i, u := range uids {
		s[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(s, ",")
}

// changeServer makes the server differ from the seeded state as another
// client and new mail would: changeCount new messages and changeCount
// messages newly \Flagged, spread over the folders. It returns what the
// server then holds: messages and \Flagged messages in all folders.
func (b *bench) changeServer(m *mailbox) (messages, nflagged int, err error) {
	s := b.server
	for i, f := range m.folders {
		// A seed of their own, so the new messages are not copies of
		// seeded ones; Seed gives them UIDs above every existing one.
		if err := s.SeedGenerated(m.user, f, 1_000_000+m.seedBase+int64(i), share(changeCount, len(m.folders), i)); err != nil {
			return 0, 0, err
		}
		if _, err := s.Doveadm("flags", "add", "-u", m.user, flagged, "mailbox", f, "uid", uidSet(m.toFlag[f])); err != nil {
			return 0, 0, err
		}
	}
	return b.serverCounts(m)
}

// undoChange puts the server back as seeded: the added messages
// expunged, the flags removed again. It checks the result.
func (b *bench) undoChange(m *mailbox) error {
	s := b.server
	for _, f := range m.folders {
		if _, err := s.Doveadm("flags", "remove", "-u", m.user, flagged, "mailbox", f, "uid", uidSet(m.toFlag[f])); err != nil {
			return err
		}
		fl, err := s.Flags(m.user, f)
		if err != nil {
			return err
		}
		uids := sortedUIDs(fl)
		if len(uids) > m.perFolder {
			// Seeded messages keep their UIDs; the added ones are above.
			if err := s.Expunge(m.user, f, uids[m.perFolder:]...); err != nil {
				return err
			}
		}
	}
	messages, nflagged, err := b.serverCounts(m)
	if err != nil {
		return err
	}
	if messages != m.total() || nflagged != m.flagged {
		return fmt.Errorf("%s holds %d messages (%d flagged) after the undo, want %d (%d)", m.user, messages, nflagged, m.total(), m.flagged)
	}
	return nil
}

func (b *bench) serverCounts(m *mailbox) (messages, nflagged int, err error) {
	for _, f := range m.folders {
		fl, err := b.server.Flags(m.user, f)
		if err != nil {
			return 0, 0, err
		}
		messages += len(fl)
		for _, list := range fl {
			if slices.Contains(list, flagged) {
				nflagged++
			}
		}
	}
	return messages, nflagged, nil
}

// bigMessage returns a message of about size bytes: a short text part and
// a base64 attachment of deterministic random bytes, LF line endings as
// Dovecot stores them.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 4096)
	b.WriteString("From: Big Sender <big@example.org>\n" +
		"To: Benchmark <bench@example.org>\n" +
		"Subject: One big message\n" +
		"Date: Mon, 02 Jun 2025 10:00:00 +0000\n" +
		"Message-ID: <big-1@peerbench.example>\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"peerbench-big\"\n" +
		"\n" +
		"--peerbench-big\n" +
		"Content-Type: text/plain; charset=us-ascii\n" +
		"\n" +
		"The attachment is random.\n" +
		"--peerbench-big\n" +
		"Content-Type: application/octet-stream\n" +
		"Content-Transfer-Encoding: base64\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\n" +
		"\n")
	const trailer = "--peerbench-big--\n"
	rng := rand.NewPCG(7, 7)
	raw := make([]byte, 57) // 57 bytes are one 76-character base64 line
	line := make([]byte, 76)
	for b.Len()+77+len(trailer) <= size {
		for i := 0; i < len(raw); i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && i+k < len(raw); k++ {
				raw[i+k] = byte(v >> (8 * k))
			}
		}
		base64.StdEncoding.Encode(line, raw)
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString(trailer)
	return b.Bytes()
}
