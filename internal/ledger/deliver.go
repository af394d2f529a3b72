package ledger

import (
	"errors"
	"fmt"

	"github.com/mailfetch/mailfetch/maildir"
)

// errDry is what delivering through a dry ledger gives.
var errDry = errors.New("ledger: a dry run delivers nothing")

// Delivery is a message staged in a Maildir (maildir.Target.Stage) and
// its intent.
type Delivery struct {
	Intent
	Staged *maildir.Staged
}

// Deliver publishes a batch of staged messages under the intent protocol:
//
//  1. a P record for every message, then one fsync of the journal;
//  2. t.Publish of the batch (the files' bytes made durable, renamed into
//     new/ or cur/, each directory fsynced);
//  3. a D record for every message that was published, not synced: the
//     next batch's fsync or Sync makes them durable.
//
// A delivery whose ID is "" (a server without ids) is published and not
// journaled. An Intent's Unique, when empty, is the staged message's.
//
// It returns the deliveries that were published (in the batch's order)
// and the first failure. When step 1 fails nothing is published and the
// batch's tmp/ files are removed. When Publish fails part way, the
// published messages are returned and journaled as done, and the others
// are removed from tmp/. A failure to append the D records leaves the
// published messages in doubt, which their P records resolve (Resolve
// finds them). Either way no message the journal does not know of is ever
// in new/ or cur/.
func (l *Ledger) Deliver(t maildir.Target, batch []Delivery) ([]Delivery, error) {
	staged := make([]*maildir.Staged, len(batch))
	for i := range batch {
		staged[i] = batch[i].Staged
	}
	if l.dry {
		t.Discard(staged...)
		return nil, errDry
	}
	intents := make([][]byte, 0, len(batch))
	for i := range batch {
		d := &batch[i]
		if d.ID == "" {
			continue
		}
		if d.Unique == "" && d.Staged != nil {
			d.Unique = d.Staged.Unique()
		}
		rec, err := IntentRecord(d.Intent)
		if err == nil {
			err = checkDone(d.Intent)
		}
		if err != nil {
			t.Discard(staged...)
			return nil, err
		}
		intents = append(intents, rec)
	}
	if err := l.write(true, intents...); err != nil {
		t.Discard(staged...)
		return nil, err
	}
	perr := t.Publish(staged...)
	var done []Delivery
	var dones [][]byte
	for _, d := range batch {
		if d.Staged == nil || !d.Staged.Published() {
			continue
		}
		done = append(done, d)
		if d.ID != "" {
			rec, _ := DoneRecord(d.Intent) // checked above
			dones = append(dones, rec)
		}
	}
	if perr != nil {
		t.Discard(staged...) // removes the unpublished only
	}
	jerr := l.write(false, dones...)
	return done, errors.Join(perr, jerr)
}

// DeliverNow is the intent protocol for a delivery that is complete when
// it returns (an MDA, whose Stage delivers): the P record of in (Unique
// MDA when empty) and an fsync, then deliver, then, once the message is
// delivered, the D record, not synced (as Deliver's). A crash between the
// delivery and the D record's sync leaves an MDA intent, which Resolve
// cannot check: the message is delivered again (a duplicate, never a
// loss). An ID of "" is delivered and not journaled.
func (l *Ledger) DeliverNow(in Intent, deliver func() (*maildir.Staged, error)) (*maildir.Staged, error) {
	if l.dry {
		return nil, errDry
	}
	if in.ID != "" {
		if in.Unique == "" {
			in.Unique = MDA
		}
		rec, err := IntentRecord(in)
		if err == nil {
			err = checkDone(in)
		}
		if err != nil {
			return nil, err
		}
		if err := l.write(true, rec); err != nil {
			return nil, err
		}
	}
	st, err := deliver()
	if err != nil || st == nil || !st.Published() || in.ID == "" {
		return st, err
	}
	rec, _ := DoneRecord(in) // checked above
	return st, l.write(false, rec)
}

// checkDone checks the fields of in's D record before anything is
// written, so that a delivery cannot fail after its Publish for that.
func checkDone(in Intent) error {
	_, err := DoneRecord(in)
	return err
}

// Resolution is what Resolve decided for each id in doubt, one Intent per
// id, in the order the ids first came.
type Resolution struct {
	// Delivered: a file of the id's was found in the Maildir; its D record
	// is journaled and synced. The Intent is the one found.
	Delivered []Intent
	// Again: no file of the id's is in the Maildir; it was not delivered
	// and is to be fetched again.
	Again []Intent
	// Unsure: delivered to an MDA maybe, or into a Maildir that cannot be
	// looked at now (find is nil): it is fetched again, which may deliver
	// it twice. The engine tells the user so.
	Unsure []Intent
}

// Resolve settles the intents a crash left in doubt (a P record without
// its D record), DESIGN invariant 2: for each id, a unique name of its
// intents that find finds in the Maildir means delivered (a D record with
// the found intent's Done fields is journaled, and all are synced at the
// end), none found means not delivered. An MDA intent, or any intent when
// find is nil, cannot be checked: fetched again. find looks a unique name
// up in new/ and cur/ whatever a mail reader did to the rest of the name
// (maildir.Mailbox.Find). A dry ledger looks and journals nothing.
func (l *Ledger) Resolve(doubt []Intent, find func(unique string) (bool, error)) (Resolution, error) {
	var res Resolution
	var order []string
	byID := map[string][]Intent{}
	for _, in := range doubt {
		if byID[in.ID] == nil {
			order = append(order, in.ID)
		}
		byID[in.ID] = append(byID[in.ID], in)
	}
	var dones [][]byte
	for _, id := range order {
		ins := byID[id]
		found, unsure := -1, -1
		for i, in := range ins {
			if IsMDA(in.Unique) || find == nil {
				// The MDA's is the one to tell the user about.
				if unsure < 0 || IsMDA(in.Unique) && !IsMDA(ins[unsure].Unique) {
					unsure = i
				}
				continue
			}
			ok, err := find(in.Unique)
			if err != nil {
				return Resolution{}, fmt.Errorf("%s: looking for an interrupted delivery: %w", l.name, err)
			}
			if ok {
				found = i
				break
			}
		}
		switch {
		case found >= 0:
			rec, err := DoneRecord(ins[found])
			if err != nil {
				return Resolution{}, err
			}
			dones = append(dones, rec)
			res.Delivered = append(res.Delivered, ins[found])
		case unsure >= 0:
			res.Unsure = append(res.Unsure, ins[unsure])
		default:
			res.Again = append(res.Again, ins[0])
		}
	}
	if len(dones) > 0 {
		if err := l.write(true, dones...); err != nil {
			return Resolution{}, err
		}
	}
	return res, nil
}
