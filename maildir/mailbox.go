package maildir

// Published reports whether the message is delivered: durable in new/ or
// cur/ (Path is set), or accepted by an MDA. It is false before Publish,
// and after a failure or a Discard.
func (s *Staged) Published() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stagedPublished
}
