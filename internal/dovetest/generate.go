package dovetest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"mime"
	"net/url"
	"strconv"
	"time"
)

// Message is one message to put on the server.
//
// Raw uses LF line endings, as Dovecot stores a Maildir message; Dovecot
// serves every bare LF as CRLF over IMAP and POP3, so a client receives
// CRLF(Raw), not Raw (see CRLF and FetchRaw).
type Message struct {
	// Raw is the message exactly as written to the server's Maildir.
	Raw []byte
	// Flags are Maildir info letters in ASCII order, as in a file name's
	// ":2,<flags>" part: D (\Draft), F (\Flagged), R (\Answered), S (\Seen),
	// T (\Deleted). "" is a new, unseen message.
	Flags string
	// InternalDate is the IMAP INTERNALDATE (the Maildir file's mtime);
	// zero means the time of seeding.
	InternalDate time.Time
}

// Message classes of the generated mix; the shares match the corpus that
// the peers were measured with (PEERS.md).
const (
	classText        = iota // 85 %: 2–20 KiB text/plain
	classAlternative        // 12 %: 20–100 KiB multipart/alternative
	classAttachment         //  3 %: 100 KiB–2 MiB multipart/mixed with a base64 attachment
)

// Generate returns n deterministic messages for seed: the same seed and n
// give the same bytes on every run and machine, and message i does not
// depend on n, so Generate(s, 100) is a prefix of Generate(s, 1000).
//
// The mix: 85 % are 2–20 KiB text/plain, 12 % 20–100 KiB
// multipart/alternative, 3 % 100 KiB–2 MiB multipart/mixed with a base64
// attachment; the shares are exact in every block of 100 messages. Headers
// are realistic (Received, From, To, Subject, Date, a unique Message-ID,
// MIME-Version, Content-Type), some with RFC 2047 encoded words and some
// with raw 8-bit UTF-8; some bodies have lines longer than 998 bytes,
// lines that start with '.' (a lone "." too) and lines that start with
// "From ". About half carry flags.
//
// Generate holds all n messages in memory (about 35 MB per 1,000); for
// thousands, use GenerateEach or Server.SeedGenerated.
func Generate(seed int64, n int) []Message {
	msgs := make([]Message, 0, n)
	for i := range n {
		msgs = append(msgs, generate(seed, i))
	}
	return msgs
}

// GenerateEach calls fn with the messages Generate(seed, n) returns, one
// at a time and in order, holding only one in memory. It stops at fn's
// first error and returns it.
func GenerateEach(seed int64, n int, fn func(i int, m Message) error) error {
	for i := range n {
		if err := fn(i, generate(seed, i)); err != nil {
			return err
		}
	}
	return nil
}

// CRLF returns raw with every LF that is not preceded by CR turned into
// CRLF: the bytes an IMAP or POP3 client receives from Dovecot for a
// message stored as raw.
func CRLF(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/40)
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// genRand is a deterministic source whose outputs do not depend on the Go
// version: PCG's Uint64 is a fixed algorithm, and the derived helpers are
// ours (math/rand/v2 may change how IntN maps its source's bits).
type genRand struct{ pcg *rand.PCG }

func newGenRand(seed int64, stream uint64) *genRand {
	return &genRand{pcg: rand.NewPCG(uint64(seed), stream*0x9e3779b97f4a7c15+0x632be59bd9b4e019)}
}

func (r *genRand) u64() uint64 { return r.pcg.Uint64() }

// intn returns a value in [0, n) (n > 0).
func (r *genRand) intn(n int) int {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi].
func (r *genRand) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// percent reports true with probability p %.
func (r *genRand) percent(p int) bool { return r.intn(100) < p }

func pick[T any](r *genRand, s []T) T { return s[r.intn(len(s))] }

// classOf places the 85/12/3 mix exactly in each block of 100 messages,
// shuffled per block so that classes do not come in runs.
func classOf(seed int64, i int) int {
	r := newGenRand(seed, 1<<62|uint64(i/100))
	var perm [100]uint8
	for k := range perm {
		perm[k] = uint8(k)
	}
	for k := len(perm) - 1; k > 0; k-- {
		j := r.intn(k + 1)
		perm[k], perm[j] = perm[j], perm[k]
	}
	switch v := perm[i%100]; {
	case v < 85:
		return classText
	case v < 97:
		return classAlternative
	default:
		return classAttachment
	}
}

const kib = 1024

func generate(seed int64, i int) Message {
	r := newGenRand(seed, uint64(i))
	class := classOf(seed, i)
	var size int
	switch class {
	case classText:
		size = r.between(2*kib+textSlack, 20*kib)
	case classAlternative:
		size = r.between(20*kib, 100*kib)
	default:
		// lo + (hi-lo)·u³: most attachments are a few hundred KiB (median
		// 340 KiB, mean 590 KiB), a few near 2 MiB. Integers only: floating
		// point may differ between platforms (FMA), sizes must not.
		u := int64(r.intn(1024))
		size = 100*kib + int((2048-100)*kib*u*u*u/(1024*1024*1024))
	}

	b := new(bytes.Buffer)
	b.Grow(size + 4*kib)
	date := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC).
		Add(time.Duration(i)*7*time.Minute + time.Duration(r.intn(300))*time.Second)
	zone := pick(r, zones)
	date = date.In(time.FixedZone(zone.name, zone.offset))

	from := pick(r, people)
	writeHeaders(b, r, seed, i, from, date)

	boundary := fmt.Sprintf("=_dovetest_%d_%d_%08x", seed, i, uint32(r.u64()))
	switch class {
	case classText:
		writeTextMessage(b, r, size)
	case classAlternative:
		writeAlternative(b, r, size, boundary)
	default:
		writeAttachment(b, r, size, boundary)
	}

	return Message{
		Raw:          b.Bytes(),
		Flags:        pickFlags(r),
		InternalDate: date.Add(time.Duration(5+r.intn(120)) * time.Second).UTC(),
	}
}

func pickFlags(r *genRand) string {
	switch v := r.intn(100); {
	case v < 45:
		return ""
	case v < 85:
		return "S"
	case v < 91:
		return "FS"
	case v < 96:
		return "RS"
	case v < 98:
		return "F"
	default:
		return "FRS"
	}
}

type person struct {
	name, addr string
}

var people = []person{
	{"Bob Smith", "bob@example.com"},
	{"Carol Jones", "carol.jones@example.net"},
	{"", "noreply@notifications.example.com"},
	{"Dave O'Brien", "dave@example.org"},
	{"Jürgen Müller", "juergen.mueller@example.de"},
	{"Zoë Ångström", "zoe@example.se"},
	{"José Núñez", "jose@example.es"},
	{"Ольга Петрова", "olga@example.ru"},
	{"李雷", "lilei@example.cn"},
	{"Øyvind Ødegård", "oyvind@example.no"},
	{"Mailing List", "list-bounces+alice=example.org@lists.example.org"},
	{"Ann-Kathrin Schäfer-Groß", "ak@example.at"},
}

var zones = []struct {
	name   string
	offset int
}{
	{"UTC", 0}, {"CET", 3600}, {"EST", -5 * 3600}, {"IST", 5*3600 + 1800}, {"JST", 9 * 3600}, {"PST", -8 * 3600},
}

var subjectWords = []string{
	"meeting", "report", "quarterly", "invoice", "update", "project", "review", "draft", "schedule",
	"budget", "release", "notes", "agenda", "follow-up", "question", "proposal", "Grüße", "Übersicht",
	"Besprechung", "café", "naïve", "résumé", "Привет", "встреча", "東京", "会議", "Ελλάδα", "Zürich",
	"Kraków", "Ålesund", "😀", "✔", "v1.2", "[list]", "(urgent)", "Q3", "2024",
}

var asciiWords = []string{
	"the", "a", "and", "of", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
	"not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they",
	"you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when",
	"will", "would", "who", "so", "no", "mail", "server", "message", "folder", "delivery", "sync",
	"quarterly", "numbers", "attached", "please", "review", "tomorrow", "meeting", "thanks", "regards",
}

var utf8Words = []string{
	"Grüße", "Straße", "über", "schön", "café", "naïve", "façade", "Zürich", "Ελλάδα", "Привет", "мир",
	"日本語", "東京", "😀", "señor", "mañana", "Ærø", "Łódź", "€42", "—", "«quoted»",
}

func writeHeaders(b *bytes.Buffer, r *genRand, seed int64, i int, from person, date time.Time) {
	fmt.Fprintf(b, "Return-Path: <%s>\n", from.addr)
	fmt.Fprintf(b, "Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\n"+
		"\tby mail.dovetest.invalid (Postfix) with ESMTPS id %X\n"+
		"\tfor <alice@example.org>; %s\n",
		r.intn(9), r.intn(9), 1+r.intn(254), uint32(r.u64()), date.Format(time.RFC1123Z))
	writeField(b, "From", formatAddress(r, from))
	to := "Alice Example <alice@example.org>"
	if r.percent(20) {
		to += ", " + formatAddress(r, pick(r, people))
	}
	writeField(b, "To", to)
	if r.percent(15) {
		writeField(b, "Cc", formatAddress(r, pick(r, people))+", team@example.org")
	}
	writeField(b, "Subject", subject(r))
	fmt.Fprintf(b, "Date: %s\n", date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	// seed and index make the id unique across seeds too.
	fmt.Fprintf(b, "Message-ID: <%d.%d.%08x@dovetest.invalid>\n", seed, i, uint32(r.u64()))
	if i > 0 && r.percent(30) {
		ref := fmt.Sprintf("<%d.%d.%08x@dovetest.invalid>", seed, r.intn(i), uint32(r.u64()))
		fmt.Fprintf(b, "In-Reply-To: %s\nReferences: %s\n", ref, ref)
	}
	if r.percent(40) {
		fmt.Fprintf(b, "X-Mailer: %s\n", pick(r, []string{"Thunderbird 115.5.0", "Apple Mail (2.3731)", "Microsoft Outlook 16.0", "mutt/2.2.9", "Roundcube Webmail/1.6.5"}))
	}
	b.WriteString("MIME-Version: 1.0\n")
}

// formatAddress writes a display name the ways mail in the wild does:
// plain ASCII, RFC 2047 encoded words, or raw 8-bit UTF-8 (RFC 6532).
func formatAddress(r *genRand, p person) string {
	if p.name == "" {
		return p.addr
	}
	name := p.name
	if !isASCII(name) {
		switch r.intn(3) {
		case 0:
			name = mime.BEncoding.Encode("UTF-8", name)
		case 1:
			name = mime.QEncoding.Encode("UTF-8", name)
		}
		// case 2: raw 8-bit UTF-8.
	} else if r.percent(30) || bytes.ContainsAny([]byte(name), "'") {
		name = strconv.Quote(name)
	}
	return name + " <" + p.addr + ">"
}

func subject(r *genRand) string {
	n := r.between(2, 14)
	var s []byte
	if r.percent(20) {
		s = append(s, "Re: "...)
	}
	for k := range n {
		if k > 0 {
			s = append(s, ' ')
		}
		s = append(s, pick(r, subjectWords)...)
	}
	text := string(s)
	if isASCII(text) {
		return text
	}
	switch r.intn(3) {
	case 0:
		return mime.QEncoding.Encode("UTF-8", text)
	case 1:
		return mime.BEncoding.Encode("UTF-8", text)
	}
	return text // raw 8-bit UTF-8
}

// writeField writes "Name: value", folded at spaces to lines of about 78
// bytes as RFC 5322 section 2.2.3 asks, so long subjects come folded like
// those of real mailers.
func writeField(b *bytes.Buffer, name, value string) {
	line := len(name) + 2
	b.WriteString(name)
	b.WriteString(":")
	words := bytes.Fields([]byte(value))
	for k, w := range words {
		if k > 0 && line+1+len(w) > 78 {
			b.WriteString("\n")
			line = 0
		}
		b.WriteByte(' ')
		b.Write(w)
		line += 1 + len(w)
	}
	b.WriteString("\n")
}

func isASCII(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] >= 0x80 {
			return false
		}
	}
	return true
}

// textTraits are the per-message oddities a fetcher must carry through
// unchanged.
type textTraits struct {
	dots     bool // lines that start with '.' (POP3 dot-stuffing)
	longLine bool // a line over 998 bytes (RFC 5322's limit, broken in the wild)
	fromLine bool // a line that starts with "From " (mbox escaping)
	dotLast  bool // the body ends with a line that is just "."
	ascii    bool // US-ASCII words only
}

func randomTraits(r *genRand) textTraits {
	return textTraits{
		dots:     r.percent(25),
		longLine: r.percent(8),
		fromLine: r.percent(5),
		dotLast:  r.percent(3),
		ascii:    r.percent(25),
	}
}

// lineEncoder appends one line of text (without its LF) to b in a
// part's encoding, LF included.
type lineEncoder func(b *bytes.Buffer, line []byte)

func plainLine(b *bytes.Buffer, line []byte) {
	b.Write(line)
	b.WriteByte('\n')
}

// htmlLine turns the text's blank lines into paragraph breaks.
func htmlLine(b *bytes.Buffer, line []byte) {
	if len(line) == 0 {
		b.WriteString("</p>\n<p>\n")
		return
	}
	b.Write(line)
	b.WriteString("<br>\n")
}

// textSlack is the most a writeText may overshoot its end: one line of
// at most ~90 bytes, tripled by quoted-printable, plus the last "\n.\n".
const textSlack = 400

var longLinePrefix = []byte("https://tracking.example.com/click?u=")

// writeText appends lines of text to b, each through enc, until b holds
// end bytes (give or take textSlack).
func writeText(b *bytes.Buffer, r *genRand, end int, t textTraits, enc lineEncoder) {
	line := make([]byte, 0, 4096)
	for b.Len() < end {
		line = line[:0]
		switch v := r.intn(100); {
		case t.dots && v < 8:
			line = append(line, pick(r, dotLines)...)
		case t.longLine && v < 12 && end-b.Len() > 1100:
			n := min(r.between(1000, 4000), end-b.Len()-60)
			line = append(line, longLinePrefix...)
			for len(line) < n {
				line = strconv.AppendUint(line, r.u64(), 16)
			}
		case t.fromLine && v < 15:
			line = append(line, "From the desk of the project lead: see below."...)
		case v < 18:
			enc(b, nil) // paragraph break
			continue
		default:
			if v < 25 {
				line = append(line, "> "...)
			}
			width := r.between(40, 76)
			for first := true; len(line) < width; first = false {
				w := asciiWords[r.intn(len(asciiWords))]
				if !t.ascii && r.intn(8) == 0 {
					w = utf8Words[r.intn(len(utf8Words))]
				}
				if !first {
					line = append(line, ' ')
				}
				line = append(line, w...)
			}
			if r.intn(32) == 0 {
				line = append(line, ' ') // trailing white space survives too
			}
		}
		enc(b, line)
	}
	if t.dotLast {
		enc(b, nil)
		enc(b, []byte("."))
	}
}

var dotLines = []string{".", "..", ".hidden line that starts with a dot", "...and so on", ". "}

func writeTextMessage(b *bytes.Buffer, r *genRand, size int) {
	t := randomTraits(r)
	charset, cte := "utf-8", "8bit"
	if t.ascii {
		charset, cte = "us-ascii", "7bit"
	}
	enc := lineEncoder(plainLine)
	if !t.ascii && !t.longLine && r.percent(20) {
		cte, enc = "quoted-printable", qpLine
	}
	fmt.Fprintf(b, "Content-Type: text/plain; charset=%s; format=flowed\nContent-Transfer-Encoding: %s\n\n", charset, cte)
	writeText(b, r, size-textSlack, t, enc)
}

func writeAlternative(b *bytes.Buffer, r *genRand, size int, boundary string) {
	fmt.Fprintf(b, "Content-Type: multipart/alternative;\n boundary=\"%s\"\n\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\n\n")
	t := randomTraits(r)
	t.longLine, t.dotLast = false, false
	fmt.Fprintf(b, "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n", boundary)
	writeText(b, r, b.Len()+(size-b.Len())*2/5, t, qpLine)
	fmt.Fprintf(b, "\n--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", boundary)
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif\">\n<p>\n")
	writeText(b, r, size-textSlack-len(boundary)-30, t, htmlLine)
	b.WriteString("</p>\n</body></html>\n")
	fmt.Fprintf(b, "\n--%s--\n", boundary)
}

var attachmentKinds = []struct{ typ, name string }{
	{"application/pdf", "report-%d.pdf"},
	{"image/jpeg", "IMG_%04d.jpg"},
	{"application/zip", "archive-%d.zip"},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Übersicht %d.xlsx"},
	{"image/png", "Bildschirmfoto %d.png"},
}

func writeAttachment(b *bytes.Buffer, r *genRand, size int, boundary string) {
	fmt.Fprintf(b, "Content-Type: multipart/mixed;\n boundary=\"%s\"\n\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\n\n")
	fmt.Fprintf(b, "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", boundary)
	writeText(b, r, b.Len()+r.between(300, 3000), randomTraits(r), plainLine)
	kind := pick(r, attachmentKinds)
	name := fmt.Sprintf(kind.name, r.intn(10000))
	fmt.Fprintf(b, "\n--%s\n", boundary)
	if isASCII(name) {
		fmt.Fprintf(b, "Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\n", kind.typ, name, name)
	} else {
		// RFC 2231 for the disposition, RFC 2047 in name= as mailers still do.
		fmt.Fprintf(b, "Content-Type: %s;\n name=\"%s\"\nContent-Disposition: attachment;\n filename*=UTF-8''%s\n",
			kind.typ, mime.QEncoding.Encode("UTF-8", name), url.PathEscape(name))
	}
	b.WriteString("Content-Transfer-Encoding: base64\n\n")
	// Base64 makes 57 bytes a line of 76 plus LF: fill the rest of size.
	raw := max(0, size-b.Len()-len(boundary)-8) / 77 * 57
	var chunk [57]byte
	var enc [76]byte
	for k := 0; k < raw; k += len(chunk) {
		for j := 0; j < len(chunk); j += 8 {
			v := r.u64()
			for q := j; q < j+8 && q < len(chunk); q++ {
				chunk[q] = byte(v)
				v >>= 8
			}
		}
		n := min(len(chunk), raw-k)
		base64.StdEncoding.Encode(enc[:], chunk[:n])
		b.Write(enc[:base64.StdEncoding.EncodedLen(n)])
		b.WriteByte('\n')
	}
	fmt.Fprintf(b, "\n--%s--\n", boundary)
}

// qpLine encodes one line as RFC 2045 section 6.7 quoted-printable with
// soft line breaks at 76 and an LF line ending (mime/quotedprintable
// writes CRLF).
func qpLine(b *bytes.Buffer, line []byte) {
	const hex = "0123456789ABCDEF"
	col := 0
	for k, c := range line {
		literal := c > ' ' && c < 0x7f && c != '=' && (c != '.' || col > 0) ||
			(c == ' ' || c == '\t') && k < len(line)-1 // trailing white space is encoded
		// A '.' that starts a line is encoded, as many mailers do, to dodge
		// SMTP dot handling.
		n := 3
		if literal {
			n = 1
		}
		if col+n > 75 {
			b.WriteString("=\n")
			col = 0
		}
		if literal {
			b.WriteByte(c)
		} else {
			b.WriteByte('=')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
		col += n
	}
	b.WriteByte('\n')
}
