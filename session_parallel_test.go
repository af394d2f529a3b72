package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Accounts run concurrently (account-jobs): a slow account holds up no
// other, a failing one fails only itself, the summary lists the accounts
// in the file's order, and the exit code says partial. The proof of
// concurrency needs no clock: the first account's server answers its
// login only once the second account has connected, which a run that
// takes the accounts one after another never does (the first account
// then fails after 30 s, and so does the test).
func TestAccountsRunConcurrently(t *testing.T) {
	t.Parallel()
	e := newParallelEnv(t)
	slowMsgs, goodMsgs := plainMessages("slow", 5), plainMessages("good", 7)

	goodSeen := make(chan struct{})
	var seenOnce sync.Once
	good := &fakePOP3{msgs: goodMsgs, stalled: make(chan struct{})}
	for i := range goodMsgs {
		good.live = append(good.live, i)
	}
	good.port = fakeServer(t, func(c net.Conn, done <-chan struct{}) {
		seenOnce.Do(func() { close(goodSeen) })
		good.serve(c, done)
	})
	slow := &fakePOP3{msgs: slowMsgs, stalled: make(chan struct{})}
	for i := range slowMsgs {
		slow.live = append(slow.live, i)
	}
	slow.port = fakeServer(t, func(c net.Conn, done <-chan struct{}) {
		select {
		case <-goodSeen:
		case <-done:
			return
		case <-time.After(30 * time.Second):
			c.Close()
			return
		}
		slow.serve(c, done)
	})
	refusing := fakeServer(t, func(c net.Conn, done <-chan struct{}) {
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "+OK fake POP3 ready\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
			case "CAPA":
				fmt.Fprintf(c, "+OK\r\nUSER\r\nUIDL\r\n.\r\n")
			case "USER":
				fmt.Fprintf(c, "+OK\r\n")
			default:
				fmt.Fprintf(c, "-ERR [AUTH] invalid password\r\n")
			}
		}
	})
	e.writeConfig(t, fakeAccount("slow", slow.port, e.mail+"/slow")+"\n"+
		fakeAccount("good", good.port, e.mail+"/good")+"\n"+
		fakeAccount("refused", refusing, e.mail+"/refused"), 0o600)

	code, stdout, stderr := e.runCLIWithin(t, 2*time.Minute, "pop3", "--account-jobs", "2", "--json")
	if code != 3 {
		t.Fatalf("exit %d, want 3 (partial)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "refused") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("stderr: want one line about the refused account:\n%s", stderr)
	}
	sameMessages(t, e.mail+"/slow", slowMsgs)
	sameMessages(t, e.mail+"/good", goodMsgs)
	if slow.left() != 0 || good.left() != 0 {
		t.Errorf("left on the servers: slow %d, good %d", slow.left(), good.left())
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum struct {
		ExitCode int `json:"exit_code"`
		Accounts []struct {
			Account   string
			Delivered int
			ErrorKind string `json:"error_kind"`
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ExitCode != 3 || len(sum.Accounts) != 3 ||
		sum.Accounts[0].Account != "slow" || sum.Accounts[0].Delivered != 5 ||
		sum.Accounts[1].Account != "good" || sum.Accounts[1].Delivered != 7 ||
		sum.Accounts[2].Account != "refused" || sum.Accounts[2].ErrorKind != "auth" {
		t.Errorf("summary: %+v", sum)
	}
	for _, l := range lines[:len(lines)-1] {
		var ev struct{ Account string }
		if json.Unmarshal([]byte(l), &ev) != nil || ev.Account == "" {
			t.Errorf("a JSON line without its account: %s", l)
		}
	}
}

// account-jobs from the file; a wrong value is a usage error that names it.
func TestAccountJobsSetting(t *testing.T) {
	t.Parallel()
	e := newParallelEnv(t)
	e.writeConfig(t, "account-jobs = 0\n\n"+fakeAccount("a", closedPort(t), e.mail), 0o600)
	code, _, stderr := e.runCLI(t, "pop3")
	if code != 64 || !strings.Contains(stderr, "account-jobs 0 must be 1 to 32") {
		t.Errorf("account-jobs = 0: exit %d, %s", code, stderr)
	}
	code, _, stderr = e.runCLI(t, "pop3", "--account-jobs", "99")
	if code != 64 || !strings.Contains(stderr, "--account-jobs 99 must be 1 to 32") {
		t.Errorf("--account-jobs 99: exit %d, %s", code, stderr)
	}
}
