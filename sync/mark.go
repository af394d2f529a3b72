package sync

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/mailfetch/mailfetch/maildir"
)

// The skip mark of a folder lets a run pass over it without reading its
// journal or listing its Maildir: the cost of a folder in a no-change run
// does not grow with its size.
//
// A folder is passed over when its mark file holds exactly the line the
// run would write now (markText): STATUS says what it said when the
// folder was last found in step (UIDVALIDITY, UIDNEXT, MESSAGES and, for
// a Maildir, HIGHESTMODSEQ), its journal is the very file it was then
// (device, inode, size, modification time), and its Maildir's new/ and
// cur/ have the same change times (maildir.Stamp: a mail reader's flag
// change, move or deletion changes them). Anything else, including a
// missing or damaged mark, takes the full way, which checks every message
// (canSkip) and writes a fresh mark.
//
// A mark is written only when the state and the Maildir were seen to
// agree after the Stamp was taken, and only when the file system makes a
// Stamp trustworthy (maildir.ReadStamp). It is replaced atomically; even
// a lost or stale one would only cost a full look, since it names the
// journal it goes with and every journal change makes a new one.

// markPath is where a folder's skip mark lives, next to its journal.
func (e *engine) markPath(folder string) string {
	return strings.TrimSuffix(e.statePath(folder), ".journal") + ".skip"
}

// markVersion is the first word of a mark; another one never matches.
const markVersion = "skip1"

// markText is the line of a folder's mark. target is the local folder's
// directory, or "" for an MDA (then neither HIGHESTMODSEQ nor a Stamp
// count: flags are not synced). gone: some message was deleted locally
// (which matters to a run that expunges such messages on the server).
func markText(st statusMark, journal string, target string, stamp maildir.Stamp, gone bool) string {
	var b strings.Builder
	b.WriteString(markVersion)
	b.WriteString(" " + u32(st.uidValidity) + " " + uidStr(st.uidNext) + " " + u32(st.messages))
	if target == "" {
		b.WriteString(" - mda -")
	} else {
		b.WriteString(" " + u64(st.highestModSeq) + " " + maildir.EncodeField(target) + " " + stamp.String())
	}
	b.WriteString(" " + journal)
	if gone {
		b.WriteString(" gone")
	}
	b.WriteByte('\n')
	return b.String()
}

// fileID identifies one version of a file: device, inode, size and
// modification time.
func fileID(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10) + ":" +
		strconv.FormatInt(fi.Size(), 10) + ":" + strconv.FormatInt(fi.ModTime().UnixNano(), 10), true
}

// quickSkip reports whether the folder can be passed over on its mark
// alone (see above). It reads two small files and stats three.
func (e *engine) quickSkip(job *folderJob) bool {
	stt := job.f.Status
	if stt == nil || stt.Messages == nil || stt.UIDValidity == 0 {
		return false
	}
	mark, err := os.ReadFile(e.markPath(job.f.Name))
	if err != nil {
		return false
	}
	journal, ok := fileID(e.statePath(job.f.Name))
	if !ok {
		return false
	}
	now := statusMark{valid: true, uidValidity: stt.UIDValidity, uidNext: stt.UIDNext, messages: *stt.Messages}
	var stamp maildir.Stamp
	if e.opt.MDA == nil {
		if job.dir == "" || !e.caps.CondStore || stt.HighestModSeq == 0 {
			return false
		}
		now.highestModSeq = stt.HighestModSeq
		if stamp, _, err = maildir.ReadStamp(job.dir); err != nil {
			return false
		}
	}
	got := string(mark)
	// Messages deleted locally count only when they are to be expunged
	// on the server.
	return got == markText(now, journal, job.dir, stamp, false) ||
		!e.opt.ExpungeRemote && got == markText(now, journal, job.dir, stamp, true)
}

// saveMark writes the folder's skip mark at the end of a sync that left it
// in step, when that can be proven (see above); otherwise it leaves the
// old mark, which no longer matches the journal.
func (r *folderRun) saveMark() {
	st := r.st
	switch {
	case r.dry || r.keep || r.softErr != nil || r.dirty:
		return
	case !st.status.valid || st.uidValidity == 0 || st.status.uidValidity != st.uidValidity || len(st.pending) > 0:
		return
	case !r.mda && (r.mf == nil || !r.condStore || st.status.highestModSeq == 0):
		return
	}
	var stamp maildir.Stamp
	target := ""
	if !r.mda {
		target = r.job.dir
		var ok bool
		if stamp, ok = r.stampInStep(target); !ok {
			return
		}
	}
	gone := false
	for _, m := range st.msgs {
		if m.localGone {
			gone = true
			break
		}
	}
	journal, ok := fileID(r.e.statePath(r.name))
	if !ok {
		return
	}
	_ = maildir.WriteFileAtomic(r.e.markPath(r.name), []byte(markText(st.status, journal, target, stamp, gone)), 0o600)
}

// stampInStep returns a Stamp of the local folder taken while it agreed
// with the state, and false when there is none to trust.
func (r *folderRun) stampInStep(target string) (maildir.Stamp, bool) {
	if r.mf.Dir() != target {
		return maildir.Stamp{}, false
	}
	if r.sel == nil {
		// Passed over by canSkip: the Maildir was listed after r.stamp was
		// taken, and agreed with the state.
		return r.stamp, r.stampOK
	}
	// Synced: this run changed the Maildir itself. Take a Stamp, then
	// list the Maildir again to see it agree.
	stamp, ok, err := maildir.ReadStamp(target)
	if err != nil || !ok {
		return maildir.Stamp{}, false
	}
	entries, err := r.mf.Scan()
	if err != nil || r.localChangedIn(newLocalIndex(entries)) {
		return maildir.Stamp{}, false
	}
	return stamp, true
}
