package peerconf

import (
	"testing"
)

// TestSyntaxErrors feeds each peer files its own parser refuses: the import
// refuses them too, with one line that names the file and the line.
func TestSyntaxErrors(t *testing.T) {
	const mbsyncStores = "IMAPStore r\nHost h\nUser u\n\nMaildirStore l\nPath ~/M/\n\n"
	for _, tc := range []struct {
		peer, input string
		line        int // 0: the file as a whole
		contains    string
	}{
		{"mbsync", "IMAPAccount a\nHost \"imap.example.com\nUser u\n", 2, "missing closing quote"},
		{"mbsync", "IMAPAccount a\nUser me\\", 2, "unterminated escape sequence"},
		{"mbsync", "IMAPAccount a\nHost\n", 2, "Host: parameter missing"},
		{"mbsync", "IMAPAccount a\nHost imap.example.com extra\n", 2, `excess token "extra"`},
		{"mbsync", "IMAPStore s\nAccount nosuch\n", 2, `unknown IMAP account "nosuch"`},
		{"mbsync", mbsyncStores + "Channel c\nFar :nosuch:\nNear :l:\n", 9, `unknown store "nosuch"`},
		{"mbsync", mbsyncStores + "Channel c\nFar r\n", 9, "malformed mailbox spec"},
		{"mbsync", mbsyncStores + "Channel c\nFar :r:\n", 8, `channel "c" refers to no near side store`},
		{"mbsync", "MaildirStore l\nPath ~/M/\nSubFolders Maildir++\n", 1, "setting Path is incompatible with SubFolders Maildir++"},

		{"offlineimap", "[Account x]\nlocalrepository = l\n", 0, "no [general] section"},
		{"offlineimap", "accounts = a\n[general]\n", 1, "is not in a [section]"},
		{"offlineimap", "[general]\naccounts = a\njust words\n", 3, `neither a [section] nor a "key = value" line`},
		{"offlineimap", "[general]\naccounts = a\n[general]\n", 3, "section [general] is defined twice"},
		{"offlineimap", "[general]\naccounts = a\nAccounts = b\n", 3, `option "accounts" is set twice`},
		{"offlineimap", "[general]\naccounts = %(nosuch)s\n", 2, "%(nosuch)s names no option"},
		{"offlineimap", "[general]\naccounts = 100% sure\n", 2, "a % must be followed by % or ("},
		{"offlineimap", "[general]\n\naccounts = a\n", 3, "no [Account a] section"},
		{"offlineimap", "[general]\naccounts = a\n[Account a]\nlocalrepository = l\nremoterepository = r\n" +
			"[Repository l]\ntype = Maildir\nlocalfolders = ~/M\n[Repository r]\ntype = IMAP\nremoteport = imap\n", 11, "remoteport must be a port number"},
		{"offlineimap", "[general]\naccounts = a\n[Account a]\nlocalrepository = l\nremoterepository = r\n" +
			"[Repository l]\ntype = Maildir\nlocalfolders = ~/M\n[Repository r]\ntype = IMAP\nssl = maybe\n", 11, "ssl must be yes or no"},

		{"getmail", "[destination]\ntype = Maildir\npath = ~/M/\n", 0, "no [retriever] section"},
		{"getmail", "[retriever]\ntype = FancyRetriever\n", 2, `unknown retriever type "FancyRetriever"`},
		{"getmail", "[retriever]\ntype = SimplePOP3Retriever\nserver = s\nusername = u\npassword_command = pass show x\n[destination]\ntype = Maildir\npath = ~/M/\n", 5, "password_command: not a tuple"},
		{"getmail", "[retriever]\ntype = SimpleIMAPRetriever\nserver = s\nusername = u\nmailboxes = (\"INBOX\")\n", 5, "mailboxes: not a tuple"},
		{"getmail", "[retriever]\ntype = SimplePOP3Retriever\nserver = s\nusername = u\nport = pop3\n", 5, "port must be an integer"},
		{"getmail", "[retriever]\ntype = SimplePOP3Retriever\nserver = s\nusername = u\n[destination]\ntype = Maildir\npath = ~/M/\n[options]\ndelete = perhaps\n", 9, "delete must be true or false"},
		{"getmail", "[retriever]\ntype = SimplePOP3Retriever\nserver = s\nusername = u\n", 0, "no [destination] section"},
		{"getmail", "[retriever]\ntype = SimplePOP3Retriever\nusername = u\n", 1, "[retriever] has no server"},

		{"fetchmail", "poll pop.example.com\n  user \"joe\n  pass x\n", 2, "a string in \" quotes is not closed"},
		{"fetchmail", "poll pop.example.com proto pop3\n  user joe with\n  poll\n", 3, "poll needs a server name at the end of the file"},
		{"fetchmail", "poll imap proto imap user joe\n", 1, `poll needs a server name (quote it if it is spelt like a keyword) at "imap"`},
		{"fetchmail", "poll pop.example.com user joe\n  via other.example.com\n", 2, `server option after user options at "via"`},
		{"fetchmail", "poll pop.example.com proto pop3\n  frobnicate\n", 2, `syntax error: expected an option at "frobnicate"`},
		{"fetchmail", "poll pop.example.com proto pop3 keep\n  user joe\n", 2, "write \"user NAME\" first"},
		{"fetchmail", "poll pop.example.com proto smtp\n", 1, "proto needs a protocol"},
		{"fetchmail", "set frobnicate\n", 1, "set: unknown global option"},

		{"mpop", "# comment\nhost pop.example.com\n", 2, "the first command must be account or defaults, not host"},
		{"mpop", "account a\nhost h\naccount a\n", 3, "account a is defined twice"},
		{"mpop", "account b : a\n", 1, `no earlier account "a" to inherit from`},
		{"mpop", "account\n", 1, "account needs a name"},
	} {
		file := "/home/me/." + tc.peer + "rc"
		_, err := importData(tc.peer, []string{file}, [][]byte{[]byte(tc.input)}, testEnv)
		if err == nil {
			t.Errorf("%s %q: no error", tc.peer, tc.input)
			continue
		}
		t.Run(tc.peer, func(t *testing.T) { checkSyntaxError(t, err, file, tc.line, tc.contains) })
	}
}
