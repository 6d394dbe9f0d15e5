package keys

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"testing"
)

// postgresURL starts a throwaway PostgreSQL server for the test and returns
// its URL, or "" when no server is installed (a failure instead under
// LLMVOY_REQUIRE_SERVERS=1: `make test` installs one).
func postgresURL(t *testing.T) string {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		if os.Getenv("LLMVOY_REQUIRE_SERVERS") == "1" {
			t.Fatal("PostgreSQL is not installed (make servers installs it)")
		}
		t.Log("PostgreSQL is not installed: testing SQLite only")
		return ""
	}
	dir, err := os.MkdirTemp("", "llmvoy-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: run it as its own user.
	var runAs []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal("running as root and there is no postgres user to start PostgreSQL as")
		}
		var uid, gid int
		fmt.Sscan(u.Uid, &uid)
		fmt.Sscan(u.Gid, &gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		if runAs != nil {
			cmd = exec.Command(runAs[0], append(runAs[1:], args...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(filepath.Join(bin, "initdb"), "-D", data, "-U", "llmvoy", "--auth=trust", "-E", "UTF8")
	port := freePort(t)
	run(filepath.Join(bin, "pg_ctl"), "-D", data, "-w", "-l", filepath.Join(dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir), "start")
	t.Cleanup(func() { run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop") })
	return fmt.Sprintf("postgres://llmvoy@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
}

// postgresBin is the newest installed PostgreSQL's bin directory.
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
