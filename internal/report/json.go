package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// jsonPrinter shows a run as JSON Lines on stdout (--json): an object per
// message event, notice and error, and the Summary last. Errors are also
// written to stderr as lines, as on a text run, for a log that keeps only
// stderr.
type jsonPrinter struct {
	stdout, stderr io.Writer
}

// jsonMessage is the --json object for message events. Its fields are a
// documented interface (README, "JSON output"): add, never rename.
type jsonMessage struct {
	Type      string `json:"type"`
	Account   string `json:"account"`
	Protocol  string `json:"protocol,omitempty"`
	Folder    string `json:"folder,omitempty"`
	ID        string `json:"id,omitempty"`
	Path      string `json:"path,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Flags     string `json:"flags,omitempty"`
	Side      string `json:"side,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	From      string `json:"from,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Date      string `json:"date,omitempty"`
	Text      string `json:"text,omitempty"`
	Error     string `json:"error,omitempty"`
	Kind      string `json:"error_kind,omitempty"`
}

var jsonType = map[Kind]string{
	Delivered: "message", WouldFetch: "would-fetch", Deleted: "deleted", WouldDelete: "would-delete",
	FlagsChanged: "flags", Skipped: "skipped", Notice: "notice", Error: "error",
}

func (p *jsonPrinter) event(e Event) {
	if typ, ok := jsonType[e.Kind]; ok {
		writeJSON(p.stdout, p.message(typ, e))
	}
	if e.Kind == Error {
		fmt.Fprintf(p.stderr, "mailfetch: %s: %v\n", where(e), e.Err)
	}
}

func (p *jsonPrinter) message(typ string, e Event) jsonMessage {
	m := jsonMessage{Type: typ, Account: e.Account, Protocol: e.Protocol, Folder: e.Folder, ID: e.ServerID,
		Path: e.Path, Size: e.Size, Flags: e.Flags, MessageID: e.MessageID, From: e.From, Subject: e.Subject, Text: e.Text}
	if e.Kind == Deleted || e.Kind == WouldDelete || e.Kind == FlagsChanged {
		m.Side = "server"
		if e.Local {
			m.Side = "local"
		}
	}
	if !e.Date.IsZero() {
		m.Date = e.Date.Format(time.RFC3339)
	}
	if e.Err != nil {
		m.Error = e.Err.Error()
		m.Kind = failure.KindOf(e.Err).String()
	}
	return m
}

// accountFailed writes the line only: the summary carries the account's
// error for a program.
func (p *jsonPrinter) accountFailed(account string, err error) {
	fmt.Fprintf(p.stderr, "mailfetch: %s: %v\n", account, err)
}

func (p *jsonPrinter) finish() {}

func (p *jsonPrinter) summary(s Summary) { writeJSON(p.stdout, s) }

func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(append(b, '\n'))
}
