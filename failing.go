package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// A temporary failure (exit 75) tells cron "the next run will fix this",
// and the README's own recipe ignores it. One that never ends must not stay
// silent for ever: each account keeps a record of its consecutive
// temporary failures, and once they have lasted longer than fail-after, a
// run that fails temporarily exits 69 (unavailable) and says since when.

// failingFile is the record, in the account's state directory. It exists
// only while the account fails temporarily.
const failingFile = "failing"

// failingRecord is the file's content.
type failingRecord struct {
	// Since is the time of the first of the consecutive temporary failures.
	Since time.Time `json:"since"`
	// Runs counts them, this run's included.
	Runs int `json:"runs"`
}

// recordFailure keeps the record of account a after a run (not a dry run)
// that ended with err at now, and returns err, or, when the temporary
// failures have lasted longer than a.FailAfter, err as failure.Unavailable
// saying since when. A run that succeeds or fails otherwise ends the
// record; one stopped by a signal leaves it as it is (it says nothing
// about the server). Call it with the account's lock held.
//
// The record is best effort: when it cannot be read it starts again, and
// when it cannot be written, err is returned as it is (a state directory
// that cannot be written fails the run anyway).
func recordFailure(a *config.Account, err error, now time.Time) error {
	path := filepath.Join(a.StateDir, failingFile)
	switch kind := failure.KindOf(err); {
	case kind == failure.Interrupted || kind == failure.Terminated:
		return err
	case err == nil || kind != failure.Temporary:
		removeDurably(path)
		return err
	}
	var rec failingRecord
	if data, rerr := os.ReadFile(path); rerr == nil {
		if json.Unmarshal(data, &rec) != nil || rec.Since.IsZero() || rec.Since.After(now) || rec.Runs < 0 {
			rec = failingRecord{}
		}
	}
	if rec.Since.IsZero() {
		rec = failingRecord{Since: now}
	}
	rec.Runs++
	data, _ := json.Marshal(rec)
	_ = maildir.WriteFileAtomic(path, append(data, '\n'), 0o600)
	if a.FailAfter <= 0 || now.Sub(rec.Since) <= a.FailAfter {
		return err
	}
	return failure.Wrap(failure.Unavailable, fmt.Errorf(
		"the account has failed temporarily since %s (%d runs, longer than fail-after %s): %w",
		rec.Since.Local().Format("2006-01-02 15:04"), rec.Runs, shortDuration(a.FailAfter), err))
}

// removeDurably removes the record and syncs the directory, so that a
// power cut cannot bring back the start of a streak that has ended.
func removeDurably(path string) {
	if err := os.Remove(path); err != nil {
		return // no record, above all
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// failingSince reads the record of account a: whether it fails
// temporarily, since when and over how many runs.
func failingSince(a *config.Account) (failingRecord, bool) {
	data, err := os.ReadFile(filepath.Join(a.StateDir, failingFile))
	if err != nil {
		return failingRecord{}, false
	}
	var rec failingRecord
	if json.Unmarshal(data, &rec) != nil || rec.Since.IsZero() {
		return failingRecord{}, false
	}
	return rec, true
}
