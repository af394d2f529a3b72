package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Config is a loaded config file.
type Config struct {
	// Path is the file's path as given to Load.
	Path string
	// AccountJobs is how many accounts one invocation works on at once
	// (the top-level key account-jobs); 0 when the file does not say.
	AccountJobs int
	// Accounts in the order of the file, with defaults applied and
	// validated.
	Accounts []*Account
}

// maxConfigSize bounds what Load reads: a config file is a few KiB, and a
// path given by mistake (a device, a mailbox) must not be read whole.
const maxConfigSize = 1 << 20

// Load reads, checks and validates the config file at path ("" means
// DefaultPath). Every error is failure.Usage and names the file: a missing
// file says where it looked and how to create one (and matches
// fs.ErrNotExist); an unknown key names the key and its line; a syntax error
// names line and column; every invalid setting is reported, each on a line
// of its own with the account, key and line. A file that holds a password
// but is accessible to group or others is refused.
func Load(path string) (*Config, error) {
	if path == "" {
		path = DefaultPath()
		if path == "" {
			return nil, failure.New(failure.Usage, "no config file given, and neither $XDG_CONFIG_HOME nor the home directory is known to look in")
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failure.Wrap(failure.Usage, &missingFileError{path: path})
	}
	if err != nil {
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("config file: %w", err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("config file: %w", err))
	}
	if info.IsDir() {
		return nil, failure.New(failure.Usage, fmt.Sprintf("config file %s is a directory", path))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("config file: %w", err))
	}
	if len(data) > maxConfigSize {
		return nil, failure.New(failure.Usage, fmt.Sprintf("config file %s is larger than %d KiB: is it the right file?", path, maxConfigSize>>10))
	}
	return parse(path, data, info.Mode().Perm())
}

// missingFileError is Load's error for a file that does not exist. It
// matches fs.ErrNotExist so that a caller can tell it from a broken file.
type missingFileError struct{ path string }

func (e *missingFileError) Error() string {
	return fmt.Sprintf("no config file at %s: create it with an [account.NAME] table for each account "+
		"(protocol, host, user, a password source such as password-command, and maildir)", e.path)
}

func (e *missingFileError) Unwrap() error { return fs.ErrNotExist }

// file is the TOML document.
type file struct {
	AccountJobs *int                   `toml:"account-jobs"`
	Defaults    *rawAccount            `toml:"defaults"`
	Account     map[string]*rawAccount `toml:"account"`
}

// MaxAccountJobs bounds account-jobs: each account may open jobs
// connections of its own.
const MaxAccountJobs = 32

// rawAccount is an account table as written: nil means not set, so that
// [defaults] fills only what an account leaves out.
//
// Tags beyond toml: group names keys that are inherited from [defaults] only
// together (an account that sets one key of a group inherits none of it);
// only names the one protocol a key applies to; want describes the value
// for type errors when the Go type does not say it.
type rawAccount struct {
	Protocol        *string   `toml:"protocol"`
	Host            *string   `toml:"host"`
	Port            *int      `toml:"port"`
	TLS             *string   `toml:"tls"`
	CAFile          *string   `toml:"ca-file"`
	Fingerprint     *string   `toml:"fingerprint"`
	AllowPlaintext  *bool     `toml:"allow-plaintext"`
	User            *string   `toml:"user"`
	Auth            *string   `toml:"auth"`
	PasswordCommand *string   `toml:"password-command" group:"password"`
	PasswordFile    *string   `toml:"password-file" group:"password"`
	PasswordEnv     *string   `toml:"password-env" group:"password"`
	Password        *string   `toml:"password" group:"password"`
	PasswordTimeout *string   `toml:"password-timeout" want:"a duration such as \"30s\""`
	Maildir         *string   `toml:"maildir" group:"destination"`
	Layout          *string   `toml:"layout"`
	MDA             *string   `toml:"mda" group:"destination"`
	StateDir        *string   `toml:"state-dir"`
	Timeout         *string   `toml:"timeout" want:"a duration such as \"60s\""`
	Deadline        *string   `toml:"deadline" want:"a duration such as \"2h\" (\"0\": none)"`
	FailAfter       *string   `toml:"fail-after" want:"a duration such as \"24h\" (\"0\": never)"`
	Keep            *bool     `toml:"keep" only:"pop3"`
	DeleteAfter     *int      `toml:"delete-after" only:"pop3"`
	MaxSize         *int64    `toml:"max-size" only:"pop3"`
	MaxMessages     *int      `toml:"max-messages" only:"pop3"`
	Folders         *[]string `toml:"folders" only:"imap"`
	Jobs            *int      `toml:"jobs" only:"imap"`
	ExpungeRemote   *bool     `toml:"expunge-remote" only:"imap"`
}

// rawField describes one field of rawAccount, from its tags.
type rawField struct {
	index int
	key   string
	group string
	only  string
	want  string
}

var rawFields = func() []rawField {
	t := reflect.TypeFor[rawAccount]()
	fields := make([]rawField, t.NumField())
	for i := range fields {
		sf := t.Field(i)
		fields[i] = rawField{index: i, key: sf.Tag.Get("toml"), group: sf.Tag.Get("group"), only: sf.Tag.Get("only"), want: sf.Tag.Get("want")}
		if fields[i].want == "" {
			switch sf.Type.Elem().Kind() {
			case reflect.String:
				fields[i].want = "a string"
			case reflect.Int, reflect.Int64:
				fields[i].want = "an integer"
			case reflect.Bool:
				fields[i].want = "true or false"
			case reflect.Slice:
				fields[i].want = "an array of strings"
			}
		}
	}
	return fields
}()

func fieldByKey(key string) (rawField, bool) {
	for _, f := range rawFields {
		if f.key == key {
			return f, true
		}
	}
	return rawField{}, false
}

// inherit fills the keys r leaves unset from def, by the rules of the
// package comment. protocol is the account's, after inheriting it.
func (r *rawAccount) inherit(def *rawAccount, protocol string) {
	if def == nil {
		return
	}
	rv, dv := reflect.ValueOf(r).Elem(), reflect.ValueOf(def).Elem()
	groupSet := map[string]bool{}
	for _, f := range rawFields {
		if f.group != "" && !rv.Field(f.index).IsNil() {
			groupSet[f.group] = true
		}
	}
	for _, f := range rawFields {
		dst, src := rv.Field(f.index), dv.Field(f.index)
		if !dst.IsNil() || src.IsNil() || groupSet[f.group] || (f.only != "" && f.only != protocol) {
			continue
		}
		if folders, ok := src.Interface().(*[]string); ok {
			// Each account gets its own slice, so that changing one
			// account's folders never changes another's.
			c := slices.Clone(*folders)
			dst.Set(reflect.ValueOf(&c))
			continue
		}
		dst.Set(src)
	}
}

// parse is Load after the file is read; mode is the file's permission bits.
func parse(path string, data []byte, mode fs.FileMode) (*Config, error) {
	var doc file
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, failure.Wrap(failure.Usage, decodeError(path, err))
	}
	pos := scanPositions(data)

	names := make([]string, 0, len(doc.Account))
	for name := range doc.Account {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if la, lb := pos.line("account", a), pos.line("account", b); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})

	if err := checkMode(path, mode, &doc, names); err != nil {
		return nil, err
	}

	type lineError struct {
		line int
		msg  string
	}
	var errs []lineError
	addErr := func(line int, format string, args ...any) {
		errs = append(errs, lineError{line, fmt.Sprintf(format, args...)})
	}
	if doc.Defaults != nil && doc.Defaults.StateDir != nil {
		addErr(pos.line("defaults", "state-dir"),
			"state-dir cannot be set in [defaults]: every account needs a state directory of its own (default $XDG_STATE_HOME/mailfetch/NAME)")
	}

	cfg := &Config{Path: path}
	if doc.AccountJobs != nil {
		if n := *doc.AccountJobs; n < 1 || n > MaxAccountJobs {
			addErr(pos.line("account-jobs"), "account-jobs %d must be 1 to %d", n, MaxAccountJobs)
		} else {
			cfg.AccountJobs = n
		}
	}
	for _, name := range names {
		raw := doc.Account[name]
		if raw == nil {
			raw = &rawAccount{}
		}
		protocol := raw.Protocol
		if protocol == nil && doc.Defaults != nil {
			protocol = doc.Defaults.Protocol
		}
		raw.inherit(doc.Defaults, normalWord(deref(protocol)))
		a, ps := raw.account(name)
		a.ApplyDefaults()
		ps = append(ps, a.problems()...)
		for _, p := range ps {
			addErr(pos.keyLine(name, p.key), "account %q: %s", name, p.msg)
		}
		cfg.Accounts = append(cfg.Accounts, a)
	}
	if len(errs) == 0 {
		for _, p := range sharedDirs(cfg.Accounts) {
			addErr(pos.keyLine(p.name, p.key), "account %q: %s", p.name, p.msg)
		}
	}
	if len(errs) > 0 {
		// In the order of the file, as a compiler lists them.
		slices.SortStableFunc(errs, func(a, b lineError) int { return a.line - b.line })
		joined := make([]error, len(errs))
		for i, e := range errs {
			if e.line > 0 {
				joined[i] = fmt.Errorf("%s:%d: %s", path, e.line, e.msg)
			} else {
				joined[i] = fmt.Errorf("%s: %s", path, e.msg)
			}
		}
		return nil, failure.Wrap(failure.Usage, errors.Join(joined...))
	}
	return cfg, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// account converts the raw table, expanding ~/ in paths. Problems are what
// only a file can get wrong: durations that do not parse, relative paths
// (relative to what? a cron job's working directory is not the user's).
func (r *rawAccount) account(name string) (*Account, []problem) {
	a := &Account{
		Name:            name,
		Protocol:        deref(r.Protocol),
		Host:            deref(r.Host),
		Port:            deref(r.Port),
		TLS:             deref(r.TLS),
		CAFile:          expandHome(deref(r.CAFile)),
		Fingerprint:     deref(r.Fingerprint),
		AllowPlaintext:  deref(r.AllowPlaintext),
		User:            deref(r.User),
		Auth:            deref(r.Auth),
		PasswordCommand: deref(r.PasswordCommand),
		PasswordFile:    expandHome(deref(r.PasswordFile)),
		PasswordEnv:     deref(r.PasswordEnv),
		Password:        deref(r.Password),
		Maildir:         expandHome(deref(r.Maildir)),
		Layout:          deref(r.Layout),
		MDA:             deref(r.MDA),
		StateDir:        expandHome(deref(r.StateDir)),
		Keep:            deref(r.Keep),
		DeleteAfter:     deref(r.DeleteAfter),
		MaxSize:         deref(r.MaxSize),
		MaxMessages:     deref(r.MaxMessages),
		Jobs:            deref(r.Jobs),
		ExpungeRemote:   deref(r.ExpungeRemote),
	}
	if r.Folders != nil {
		a.Folders = *r.Folders
		if a.Folders == nil {
			a.Folders = []string{} // folders = [] is set, and wrong
		}
	}
	var ps []problem
	for _, d := range []struct {
		key string
		raw *string
		dst *time.Duration
	}{{"timeout", r.Timeout, &a.Timeout}, {"password-timeout", r.PasswordTimeout, &a.PasswordTimeout}} {
		if d.raw == nil {
			continue
		}
		v, err := time.ParseDuration(strings.TrimSpace(*d.raw))
		if err != nil || v <= 0 {
			ps = append(ps, problem{d.key, fmt.Sprintf("%s %q is not a positive duration such as \"60s\" or \"5m\"", d.key, *d.raw)})
			continue
		}
		*d.dst = v
	}
	// 0 turns these off; a zero Account field would mean "the default".
	for _, d := range []struct {
		key, off string
		raw      *string
		dst      *time.Duration
	}{{"deadline", "no deadline", r.Deadline, &a.Deadline}, {"fail-after", "never", r.FailAfter, &a.FailAfter}} {
		if d.raw == nil {
			continue
		}
		v, err := time.ParseDuration(strings.TrimSpace(*d.raw))
		if err != nil || v < 0 {
			ps = append(ps, problem{d.key, fmt.Sprintf("%s %q is not a duration such as \"2h\" or \"30m\" (\"0\": %s)", d.key, *d.raw, d.off)})
			continue
		}
		if v == 0 {
			v = Disabled
		}
		*d.dst = v
	}
	for _, p := range []struct{ key, path string }{
		{"ca-file", a.CAFile}, {"password-file", a.PasswordFile}, {"maildir", a.Maildir}, {"state-dir", a.StateDir},
	} {
		if p.path != "" && !strings.HasPrefix(p.path, "~") && !filepath.IsAbs(p.path) {
			ps = append(ps, problem{p.key, fmt.Sprintf("%s %q is relative: write an absolute path, or one that starts with ~/", p.key, p.path)})
		}
	}
	return a, ps
}

// namedProblem is a problem of one account among several.
type namedProblem struct {
	name string
	problem
}

// sharedDirs finds accounts that would step on each other: one state
// directory holds one account's state and lock, and an IMAP sync owns its
// Maildir (another account's deliveries would look like local changes to
// push or expunge).
func sharedDirs(accounts []*Account) []namedProblem {
	var ps []namedProblem
	for i, a := range accounts {
		for _, b := range accounts[:i] {
			if a.StateDir != "" && a.StateDir == b.StateDir {
				ps = append(ps, namedProblem{a.Name, problem{"state-dir",
					fmt.Sprintf("state-dir %s is also account %q's: every account needs its own", a.StateDir, b.Name)}})
			}
			if a.Maildir != "" && a.Maildir == b.Maildir && (a.Protocol == ProtocolIMAP || b.Protocol == ProtocolIMAP) {
				ps = append(ps, namedProblem{a.Name, problem{"maildir",
					fmt.Sprintf("maildir %s is also account %q's: an imap account needs a Maildir of its own", a.Maildir, b.Name)}})
			}
		}
	}
	return ps
}

// checkMode refuses a password in a file that others can read (or change).
func checkMode(path string, mode fs.FileMode, doc *file, names []string) error {
	if mode&0o077 == 0 {
		return nil
	}
	holder := ""
	if doc.Defaults != nil && deref(doc.Defaults.Password) != "" {
		holder = "in [defaults]"
	}
	for _, name := range names {
		if holder == "" && doc.Account[name] != nil && deref(doc.Account[name].Password) != "" {
			holder = fmt.Sprintf("for account %q", name)
		}
	}
	if holder == "" {
		return nil
	}
	return failure.New(failure.Usage, fmt.Sprintf("%s is %s by others (mode %04o) but holds a password %s: chmod 600 %s, or use password-command or password-file",
		path, openTo(mode), mode.Perm(), holder, path))
}

// openTo says what group and others may do with a file of this mode.
func openTo(mode fs.FileMode) string {
	switch {
	case mode&0o044 != 0:
		return "readable"
	case mode&0o022 != 0:
		return "writable"
	}
	return "accessible"
}

// decodeError rewrites go-toml's errors in the terms of the file format:
// the key as written, its line, and what it should have been.
func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			errs[i] = fmt.Errorf("%s:%d: %s", path, line, unknownKey(e.Key()))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("%s: %w", path, err)
	}
	line, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	key := de.Key()
	switch {
	case len(key) == 0:
		msg = "syntax error: " + msg
	case strings.Contains(msg, "already defined"):
		// The message names the key already, relative to its table.
	case len(key) == 1 && key[0] == "account":
		msg = "write each account as a table [account.NAME]"
	case len(key) == 1 && key[0] == "defaults":
		msg = "defaults must be a table [defaults]"
	case len(key) == 2 && key[0] == "account":
		msg = fmt.Sprintf("%q under [account] is not an account: write each account as a table [account.NAME]", key[1])
	default:
		where := keyPlace(key)
		if found := typeMismatch.FindStringSubmatch(msg); found != nil {
			if f, ok := fieldByKey(key[len(key)-1]); ok {
				msg = fmt.Sprintf("%s %s must be %s, not %s", key[len(key)-1], where, f.want, article(strings.ToLower(found[1])))
				break
			}
		}
		msg = fmt.Sprintf("%s %s: %s", key[len(key)-1], where, msg)
	}
	return fmt.Errorf("%s:%d:%d: %s", path, line, col, msg)
}

var typeMismatch = regexp.MustCompile(`cannot decode TOML (\w+)`)

// keyPlace says where a key sits: `in account "work"`, `in [defaults]`.
func keyPlace(key toml.Key) string {
	switch {
	case len(key) >= 3 && key[0] == "account":
		return fmt.Sprintf("in account %q", key[1])
	case len(key) >= 2 && key[0] == "defaults":
		return "in [defaults]"
	}
	return "at top level"
}

// unknownKey describes a key the format does not have, with the key meant
// when it is a near miss.
func unknownKey(key toml.Key) string {
	var name, where string
	var known []string
	switch {
	case len(key) >= 3 && key[0] == "account":
		name, where = key[2], fmt.Sprintf(" in account %q", key[1])
	case len(key) >= 2 && key[0] == "defaults":
		name, where = key[1], " in [defaults]"
	default:
		name, known = key[0], []string{"account", "defaults"}
	}
	if known == nil {
		for _, f := range rawFields {
			known = append(known, f.key)
		}
	}
	msg := fmt.Sprintf("unknown key %q%s", name, where)
	if s := suggest(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// suggest returns the known word closest to w, if it is close enough to be
// a typo.
func suggest(w string, known []string) string {
	w = strings.ToLower(strings.ReplaceAll(w, "_", "-"))
	best, bestDist := "", len(w)/3+1
	if bestDist > 3 {
		bestDist = 3
	}
	for _, k := range known {
		if d := editDistance(w, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b: the
// Levenshtein distance with a swap of two neighbours ("hots") as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// positions maps a key path (parts joined by NUL, as names may hold dots)
// to the line where the document first mentions it.
type positions map[string]int

func (p positions) line(parts ...string) int { return p[strings.Join(parts, "\x00")] }

// keyLine is the line to blame for a problem with key in account name: the
// key in the account, else in [defaults] (whence the account inherited
// it), else the account's table.
func (p positions) keyLine(name, key string) int {
	if key != "" {
		if l := p.line("account", name, key); l > 0 {
			return l
		}
		if l := p.line("defaults", key); l > 0 {
			return l
		}
	}
	return p.line("account", name)
}

// scanPositions records the line of every key and table of a document that
// already decoded without error.
func scanPositions(data []byte) positions {
	pos := positions{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e.Key())
			pos.record(&p, table, e.Key())
		case unstable.KeyValue:
			pos.keyValue(&p, table, e)
		}
	}
	return pos
}

func (pos positions) keyValue(p *unstable.Parser, table []string, kv *unstable.Node) {
	full := append(slices.Clone(table), keyParts(kv.Key())...)
	pos.record(p, full, kv.Key())
	if v := kv.Value(); v.Kind == unstable.InlineTable {
		it := v.Children()
		for it.Next() {
			if n := it.Node(); n.Kind == unstable.KeyValue {
				pos.keyValue(p, full, n)
			}
		}
	}
}

// record notes the line of the key's first part for every prefix of path
// not seen before: `account.work.host = ...` at top level is where account
// "work" starts.
func (pos positions) record(p *unstable.Parser, path []string, key unstable.Iterator) {
	if !key.Next() {
		return
	}
	line := p.Shape(key.Node().Raw).Start.Line
	for i := 1; i <= len(path); i++ {
		k := strings.Join(path[:i], "\x00")
		if _, ok := pos[k]; !ok {
			pos[k] = line
		}
	}
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// Select returns the accounts a run of protocol works on: those named, in
// the order named (each once), or, when names is empty, every account of
// protocol in file order. protocol "" accepts both protocols. Naming an
// unknown account, or one of the other protocol, is a failure.Usage error;
// so is a file without any account of protocol.
//
// The accounts are the Config's own: changes to them (command-line flags)
// are seen by later calls.
func (c *Config) Select(protocol string, names []string) ([]*Account, error) {
	if len(names) == 0 {
		var out []*Account
		for _, a := range c.Accounts {
			if protocol == "" || a.Protocol == protocol {
				out = append(out, a)
			}
		}
		if len(out) == 0 {
			if len(c.Accounts) == 0 {
				return nil, failure.New(failure.Usage, fmt.Sprintf("%s has no accounts: add an [account.NAME] table for each", c.Path))
			}
			return nil, failure.New(failure.Usage, fmt.Sprintf("%s has no %s accounts (it has %s)", c.Path, protocol, c.accountList()))
		}
		return out, nil
	}
	var out []*Account
	var errs []error
	for _, name := range names {
		i := slices.IndexFunc(c.Accounts, func(a *Account) bool { return a.Name == name })
		switch {
		case i < 0:
			msg := fmt.Sprintf("no account %q in %s", name, c.Path)
			if len(c.Accounts) > 0 {
				known := make([]string, len(c.Accounts))
				for j, a := range c.Accounts {
					known[j] = a.Name
				}
				if s := suggest(name, known); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				msg += "; it has " + c.accountList()
			}
			errs = append(errs, errors.New(msg))
		case protocol != "" && c.Accounts[i].Protocol != protocol:
			errs = append(errs, fmt.Errorf("account %q is %s account, not %s", name, article(c.Accounts[i].Protocol), protocol))
		case !slices.Contains(out, c.Accounts[i]):
			out = append(out, c.Accounts[i])
		}
	}
	if len(errs) > 0 {
		return nil, failure.Wrap(failure.Usage, errors.Join(errs...))
	}
	return out, nil
}

// accountList names every account with its protocol: `"work" (imap), "old" (pop3)`.
func (c *Config) accountList() string {
	parts := make([]string, len(c.Accounts))
	for i, a := range c.Accounts {
		parts[i] = strconv.Quote(a.Name) + " (" + a.Protocol + ")"
	}
	return strings.Join(parts, ", ")
}
