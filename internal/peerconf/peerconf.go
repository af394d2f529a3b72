package peerconf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Peers are the fetchers whose configs Import reads, by the names the
// command line uses.
var Peers = []string{"mbsync", "offlineimap", "getmail", "fetchmail", "mpop"}

// Env is what the import needs of the environment: where the default files
// are, and the login name (fetchmail's default remote user, and what "~me"
// means in a path).
type Env struct {
	Home       string // $HOME
	ConfigHome string // $XDG_CONFIG_HOME; "" means $HOME/.config
	User       string // the login name
}

func (e Env) configHome() string {
	if filepath.IsAbs(e.ConfigHome) {
		return e.ConfigHome
	}
	return filepath.Join(e.Home, ".config")
}

// ErrNoConfig is what DefaultFiles returns (wrapped, with the places it
// looked) when a peer has no config in any of its default places.
var ErrNoConfig = errors.New("no config found")

// DefaultFiles returns the config files the peer itself would read when run
// without naming one, in the peer's own order of preference: mbsync
// $XDG_CONFIG_HOME/isyncrc (isync 1.5) then ~/.mbsyncrc; offlineimap
// $XDG_CONFIG_HOME/offlineimap/config then ~/.offlineimaprc; getmail every
// getmailrc* in $XDG_CONFIG_HOME/getmail/ or else ~/.getmail/ (one account
// each); fetchmail ~/.fetchmailrc; mpop ~/.mpoprc then
// $XDG_CONFIG_HOME/mpop/config. Only the first that exists is used, except
// for getmail's several files.
func DefaultFiles(peer string, env Env) ([]string, error) {
	if env.Home == "" {
		return nil, errors.New("the home directory is not known: name the file")
	}
	xdg := env.configHome()
	var candidates []string
	switch peer {
	case "mbsync":
		candidates = []string{filepath.Join(xdg, "isyncrc"), filepath.Join(env.Home, ".mbsyncrc")}
	case "offlineimap":
		candidates = []string{filepath.Join(xdg, "offlineimap", "config"), filepath.Join(env.Home, ".offlineimaprc")}
	case "fetchmail":
		candidates = []string{filepath.Join(env.Home, ".fetchmailrc")}
	case "mpop":
		candidates = []string{filepath.Join(env.Home, ".mpoprc"), filepath.Join(xdg, "mpop", "config")}
	case "getmail":
		dirs := []string{filepath.Join(xdg, "getmail"), filepath.Join(env.Home, ".getmail")}
		for _, d := range dirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				files, err := getmailFiles(d)
				if err != nil {
					return nil, err
				}
				if len(files) == 0 {
					return nil, fmt.Errorf("%w: %s has no getmailrc* file", ErrNoConfig, d)
				}
				return files, nil
			}
		}
		return nil, fmt.Errorf("%w: neither %s nor %s exists", ErrNoConfig, dirs[0], dirs[1])
	default:
		return nil, fmt.Errorf("unknown peer %q: name one of %s", peer, strings.Join(Peers, ", "))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return []string{c}, nil
		}
	}
	return nil, fmt.Errorf("%w at %s", ErrNoConfig, strings.Join(candidates, " or "))
}

// getmailFiles lists the rc files of a getmail directory: getmailrc and
// getmailrc-*, not editor backups (a trailing "~").
func getmailFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "getmailrc") && !strings.HasSuffix(n, "~") && !e.IsDir() {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	return files, nil
}

// maxFileSize bounds what is read: a config is a few KiB, and a wrong path
// (a mailbox, a device) must not be read whole.
const maxFileSize = 1 << 20

// readFile reads one config file.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d KiB: is it the right file?", path, maxFileSize>>10)
	}
	return data, nil
}

// Import reads the peer's config files and converts them. A getmail
// directory among files stands for its getmailrc* files. An error is a file
// that cannot be read, or a *SyntaxError naming the file and line where the
// peer's own parser would refuse it.
func Import(peer string, files []string, env Env) (*Result, error) {
	if !slices.Contains(Peers, peer) {
		return nil, fmt.Errorf("unknown peer %q: name one of %s", peer, strings.Join(Peers, ", "))
	}
	if peer == "getmail" {
		var expanded []string
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.IsDir() {
				more, err := getmailFiles(f)
				if err != nil {
					return nil, err
				}
				if len(more) == 0 {
					return nil, fmt.Errorf("%s has no getmailrc* file", f)
				}
				expanded = append(expanded, more...)
				continue
			}
			expanded = append(expanded, f)
		}
		files = expanded
	}
	data := make([][]byte, len(files))
	for i, f := range files {
		d, err := readFile(f)
		if err != nil {
			return nil, err
		}
		data[i] = d
	}
	return importData(peer, files, data, env)
}

// importData is Import on the files' contents.
func importData(peer string, files []string, data [][]byte, env Env) (*Result, error) {
	switch peer {
	case "mbsync":
		return importMBSync(files[0], data[0], env)
	case "offlineimap":
		return importOfflineIMAP(files[0], data[0], env)
	case "getmail":
		return importGetmail(files, data, env)
	case "fetchmail":
		return importFetchmail(files[0], data[0], env)
	case "mpop":
		return importMPOP(files[0], data[0], env)
	}
	return nil, fmt.Errorf("unknown peer %q", peer)
}

// localPath writes a peer's local path for mailfetch, which expands a
// leading "~/" only: "~NAME/..." of the user running the import becomes
// "~/...", and a trailing "/" goes.
func localPath(p string, env Env) string {
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	if env.User != "" {
		if rest, ok := strings.CutPrefix(p, "~"+env.User); ok && (rest == "" || rest[0] == '/') {
			p = "~" + rest
		}
	}
	return p
}

// expandVars expands $HOME and ${HOME} (the one variable whose value the
// import knows for sure) the way getmail and offlineimap expand paths, as
// "~". Other variables are left for a note.
func expandVars(p string) string {
	for _, v := range []string{"${HOME}", "$HOME"} {
		if rest, ok := strings.CutPrefix(p, v); ok && (rest == "" || rest[0] == '/') {
			return "~" + rest
		}
	}
	return p
}

// pathNote adds a note when a path cannot be used by mailfetch as it is:
// relative, or with a variable or a "~user" mailfetch does not expand.
func pathNote(a *Account, key, p string, line int) {
	switch {
	case p == "":
	case strings.Contains(p, "$"):
		a.note(Note{Key: key, Value: p, Line: line, Attention: true,
			Text: "mailfetch expands no variables in paths: write the path out"})
	case strings.HasPrefix(p, "~") && p != "~" && !strings.HasPrefix(p, "~/"):
		a.note(Note{Key: key, Value: p, Line: line, Attention: true,
			Text: "mailfetch expands only a leading ~/: write the path out"})
	case !strings.HasPrefix(p, "~") && !filepath.IsAbs(p):
		a.note(Note{Key: key, Value: p, Line: line, Attention: true,
			Text: "a relative path, which the peer read from the directory it ran in: mailfetch needs an absolute path or one that starts with ~/"})
	}
}
