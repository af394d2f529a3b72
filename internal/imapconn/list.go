package imapconn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn/wire"
	"github.com/mailfetch/mailfetch/internal/mutf7"
)

// splitName cuts a folder name into path elements at the delimiter.
func splitName(name string, delim rune) []string {
	if delim == 0 {
		return []string{name}
	}
	return strings.Split(name, string(delim))
}

// statusOptions are the STATUS items a sync needs: enough to tell that a
// folder is unchanged since the last run, without selecting it.
func (s *Session) statusOptions(unseen bool) *imap.StatusOptions {
	return &imap.StatusOptions{
		NumMessages:   true,
		UIDNext:       true,
		UIDValidity:   true,
		NumUnseen:     unseen,
		HighestModSeq: s.caps.Has(imap.CapCondStore),
	}
}

// ListFolders implements Conn: LIST "" "*", with the STATUS of each
// selectable folder: in the same command with LIST-STATUS (RFC 5819)
// when offered, else with STATUS commands sent all at once (pipelined).
// NAMESPACE (RFC 2342) goes out with the LIST where the server has it:
// the first personal namespace's prefix is taken off the folders' paths.
// \Noselect and \NonExistent folders are marked not selectable; a name
// that does not decode is marked unusable.
func (s *Session) ListFolders(ctx context.Context, opt ListOptions) (*Listing, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	status := s.statusOptions(opt.Unseen)
	listStatus := opt.Status && s.caps.Has(imap.CapListStatus)
	var lo *imap.ListOptions
	if listStatus {
		lo = &imap.ListOptions{ReturnStatus: status}
	}
	var ns *imapclient.NamespaceCommand
	if s.caps.Has(imap.CapNamespace) || s.caps.Has(imap.CapIMAP4rev2) {
		ns = s.c.Namespace()
	}
	cmd := s.c.List("", "*", lo)
	var listed []*imap.ListData
	for data := cmd.Next(); data != nil; data = cmd.Next() {
		listed = append(listed, data)
	}
	if err := cmd.Close(); err != nil {
		if ns != nil {
			_, _ = ns.Wait()
		}
		return nil, s.fail(fmt.Errorf("imap: LIST: %w", err))
	}
	l := &Listing{}
	if ns != nil {
		data, err := ns.Wait()
		var ie *imap.Error
		switch {
		case err == nil:
			l.Prefix = s.personalPrefix(data)
		case !errors.As(err, &ie):
			return nil, s.fail(fmt.Errorf("imap: NAMESPACE: %w", err))
		}
	}
	for _, data := range listed {
		l.Folders = append(l.Folders, s.folder(data, l.Prefix))
	}
	slices.SortFunc(l.Folders, func(a, b *Folder) int { return strings.Compare(a.Name, b.Name) })
	l.Folders = slices.CompactFunc(l.Folders, func(a, b *Folder) bool { return a.Name == b.Name && a.Raw == b.Raw })
	if opt.Status && !listStatus {
		if err := s.statusAll(l.Folders, status); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// folder makes a Folder of a LIST answer.
func (s *Session) folder(data *imap.ListData, prefix string) *Folder {
	f := &Folder{Name: data.Mailbox, Delim: data.Delim, Selectable: true, Status: statusOf(data.Status)}
	for _, a := range data.Attrs {
		if strings.EqualFold(string(a), string(imap.MailboxAttrNoSelect)) || strings.EqualFold(string(a), string(imap.MailboxAttrNonExistent)) {
			f.Selectable = false
		}
	}
	if raw, ok := s.wire.Undecodable(data.Mailbox); ok {
		s.undecodableFolder(f, raw, prefix)
	} else if shown, ok := cutPrefix(f.Name, prefix); ok {
		f.Path = splitName(shown, f.Delim)
		f.Full = splitName(f.Name, f.Delim)
	} else {
		f.Path = splitName(f.Name, f.Delim)
	}
	return f
}

// statusAll asks STATUS of every selectable folder, all commands sent at
// once.
func (s *Session) statusAll(folders []*Folder, opts *imap.StatusOptions) error {
	type pendingStatus struct {
		f   *Folder
		cmd *imapclient.StatusCommand
	}
	var cmds []pendingStatus
	for _, f := range folders {
		if f.Selectable && f.Unusable == nil {
			cmds = append(cmds, pendingStatus{f, s.c.Status(f.Name, opts)})
		}
	}
	var firstErr error
	for _, p := range cmds {
		data, err := p.cmd.Wait()
		if err != nil {
			// One folder's STATUS failing (a race with its deletion)
			// is no reason to stop: the folder just cannot be skipped.
			if _, ok := err.(*imap.Error); !ok && firstErr == nil {
				firstErr = err
			}
			continue
		}
		p.f.Status = statusOf(data)
	}
	if firstErr != nil {
		return s.fail(fmt.Errorf("imap: STATUS: %w", firstErr))
	}
	return nil
}

func statusOf(data *imap.StatusData) *Status {
	if data == nil {
		return nil
	}
	return &Status{UIDValidity: data.UIDValidity, UIDNext: UID(data.UIDNext), Messages: data.NumMessages,
		Unseen: data.NumUnseen, HighestModSeq: data.HighestModSeq}
}

// personalPrefix returns the prefix of the first personal namespace,
// decoded like a mailbox name, ending with its delimiter; "" when there is
// none (Dovecot's default) or it is not plain.
func (s *Session) personalPrefix(data *imap.NamespaceData) string {
	if data == nil || len(data.Personal) == 0 {
		return ""
	}
	p := data.Personal[0]
	prefix := p.Prefix
	if !s.utf8 {
		var ok bool
		if prefix, ok = mutf7.Decode(prefix); !ok {
			return ""
		}
	}
	if prefix != "" && p.Delim != 0 && !strings.HasSuffix(prefix, string(p.Delim)) {
		prefix += string(p.Delim)
	}
	return prefix
}

// cutPrefix takes the personal namespace's prefix off a name, as mbsync's
// "Path INBOX." does: Courier's "INBOX.Archive" is shown (and stored
// locally) as "Archive". INBOX itself keeps its name, and so does a name
// that would become "INBOX" or nothing.
func cutPrefix(name, prefix string) (string, bool) {
	if prefix == "" {
		return name, false
	}
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" || strings.EqualFold(rest, "INBOX") {
		return name, false
	}
	return rest, true
}

// undecodableFolder describes a folder whose name go-imap could not have
// decoded: named by its raw bytes (wire.DisplayName), each path element
// too, so that a pattern can name it; Unusable says why it is skipped.
func (s *Session) undecodableFolder(f *Folder, raw, prefix string) {
	f.Raw = raw
	f.Name = wire.DisplayName(raw)
	shown := raw
	if rest, ok := cutPrefix(raw, prefix); ok {
		shown = rest
	}
	var elems []string
	if f.Delim > 0 && f.Delim < 0x80 {
		elems = strings.Split(shown, string(f.Delim))
	} else {
		elems = []string{shown}
	}
	for i, e := range elems {
		elems[i] = wire.DisplayName(e)
	}
	f.Path = elems
	what := "not valid modified UTF-7, or it holds control characters such as CR, LF or NUL"
	if s.utf8 {
		what = "not valid UTF-8, or it holds control characters such as CR, LF or NUL"
	}
	f.Unusable = failure.New(failure.Protocol, fmt.Sprintf(
		"imap: folder '%s' is skipped: the server's name for it cannot be decoded (%s; shown here with \\xHH for each byte that is not printable ASCII); exclude it with the pattern '!%s' to silence this",
		f.Name, what, strings.Join(f.Path, "/")))
}
