package pop3

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Capability names from RFC 2449 §6 and RFC 2595 §4, as keys of
// Capabilities.
const (
	CapTop            = "TOP"
	CapUser           = "USER"
	CapSASL           = "SASL"
	CapRespCodes      = "RESP-CODES"
	CapLoginDelay     = "LOGIN-DELAY"
	CapPipelining     = "PIPELINING"
	CapExpire         = "EXPIRE"
	CapUIDL           = "UIDL"
	CapImplementation = "IMPLEMENTATION"
	CapSTLS           = "STLS"
	CapAuthRespCode   = "AUTH-RESP-CODE" // RFC 3206: the AUTH response code is used
	CapUTF8           = "UTF8"           // RFC 6856: the UTF8 command (argument USER: UTF-8 user names and passwords)
)

// Capabilities is a CAPA reply: capability names in upper case, each with its
// arguments. A nil Capabilities has none.
type Capabilities map[string][]string

// Has reports whether the server advertised the capability name (matched
// case-insensitively).
func (c Capabilities) Has(name string) bool {
	_, ok := c[strings.ToUpper(name)]
	return ok
}

// Args returns the arguments advertised with the capability name, or nil.
func (c Capabilities) Args(name string) []string {
	return c[strings.ToUpper(name)]
}

// Names returns the advertised capability names, sorted.
func (c Capabilities) Names() []string {
	return slices.Sorted(maps.Keys(c))
}

// SASL returns the SASL mechanisms offered for AUTH (RFC 5034), in upper case.
func (c Capabilities) SASL() []string {
	mechs := make([]string, 0, len(c[CapSASL]))
	for _, m := range c[CapSASL] {
		mechs = append(mechs, strings.ToUpper(m))
	}
	return mechs
}

// LoginDelay returns the minimum delay the server enforces between logins
// (RFC 2449 §6.5); ok is false when it did not say, or said something that is
// not a number of seconds. In the AUTHORIZATION state a server may announce
// "USER" instead of a fixed delay: ask again after login for the real value.
func (c Capabilities) LoginDelay() (d time.Duration, ok bool) {
	args := c[CapLoginDelay]
	if len(args) == 0 {
		return 0, false
	}
	secs, err := strconv.ParseUint(args[0], 10, 31)
	if err != nil {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// ExpirePolicy is the server's retention policy (RFC 2449 §6.7).
type ExpirePolicy struct {
	// Never is true when the server never deletes messages on its own.
	Never bool
	// Days a message may stay after it was first retrieved. Zero means the
	// server deletes every retrieved message at the end of the session,
	// whether or not it was DELEted: "keep" cannot be honoured.
	Days int
}

// Expire returns the server's retention policy; ok is false when it did not
// advertise one (or announced "USER", meaning: ask again after login).
func (c Capabilities) Expire() (p ExpirePolicy, ok bool) {
	args := c[CapExpire]
	if len(args) == 0 {
		return ExpirePolicy{}, false
	}
	if strings.EqualFold(args[0], "NEVER") {
		return ExpirePolicy{Never: true}, true
	}
	days, err := strconv.ParseUint(args[0], 10, 31)
	if err != nil {
		return ExpirePolicy{}, false
	}
	return ExpirePolicy{Days: int(days)}, true
}

// capaParser validates and collects the lines of a CAPA reply.
type capaParser struct {
	caps Capabilities
	line int
}

// add parses one line: capa-tag *(SP param) (RFC 2449 §5). Tags must be
// printable ASCII; parameters may carry UTF-8 (IMPLEMENTATION strings do) but
// no control characters. An empty line is ignored; a tag given twice has its
// parameters appended.
func (p *capaParser) add(line []byte) error {
	p.line++
	if len(line) == 0 {
		return nil
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return nil
	}
	tag := fields[0]
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("line %d: invalid capability name %s", p.line, quote(line))
		}
	}
	for _, f := range fields[1:] {
		if !utf8.ValidString(f) || strings.ContainsFunc(f, isControl) {
			return fmt.Errorf("line %d: invalid capability argument %s", p.line, quote(line))
		}
	}
	tag = strings.ToUpper(tag)
	if p.caps == nil {
		p.caps = Capabilities{}
	}
	p.caps[tag] = append(p.caps[tag], fields[1:]...)
	return nil
}
