package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Postgres is one database on a real PostgreSQL server started for the
// tests (trust authentication, loopback only, fsync off).
type Postgres struct {
	Port int    // the server's TCP port on 127.0.0.1
	Name string // the database
}

// DSN is the database's URL, for pgx or sql.connect.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, p.Name)
}

// StartPostgres starts a PostgreSQL server of its own for t, creates a
// database on it and stops the server when t ends. It skips t when
// PostgreSQL is not installed (fails it when [Required]).
//
// A package with many such tests is faster with [SharedPostgres].
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	s, err := startPGServer()
	if err != nil {
		pgUnavailable(t, err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stopping postgres: %v", err)
		}
	})
	return newPGDatabase(t, s)
}

var sharedPG struct {
	once   sync.Once
	server *pgServer
	err    error
}

// SharedPostgres returns a fresh database (dropped when t ends) on one
// PostgreSQL server shared by the test package, started on first use. A
// package that calls it stops the server from its TestMain with
// [StopSharedPostgres] after m.Run.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	sharedPG.once.Do(func() { sharedPG.server, sharedPG.err = startPGServer() })
	if sharedPG.err != nil {
		pgUnavailable(t, sharedPG.err)
	}
	return newPGDatabase(t, sharedPG.server)
}

// StopSharedPostgres stops the server [SharedPostgres] started, if any,
// and removes its files.
func StopSharedPostgres() error {
	if sharedPG.server == nil {
		return nil
	}
	return sharedPG.server.stop()
}

// errNoPostgres marks a missing installation, which skips rather than fails.
var errNoPostgres = errors.New("PostgreSQL (initdb, postgres, pg_isready, psql in one directory) is not installed")

func pgUnavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNoPostgres) && !Required() {
		t.Skip(err)
	}
	t.Fatal(err)
}

var pgDatabases atomic.Int64

func newPGDatabase(t testing.TB, s *pgServer) *Postgres {
	t.Helper()
	name := fmt.Sprintf("test_%d", pgDatabases.Add(1))
	// FILE_COPY (PostgreSQL 15+) is twice as fast as the default with
	// fsync off; older servers take the plain form.
	if err := s.psql("CREATE DATABASE " + name + " STRATEGY FILE_COPY"); err != nil {
		if err := s.psql("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// FORCE ends sessions a test left open (PostgreSQL 13+); a failure
		// only leaves a database behind on a server that is going away.
		_ = s.psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return &Postgres{Port: s.port, Name: name}
}

// pgServer is a running postgres process and its temp dir.
type pgServer struct {
	bin    string // the directory holding initdb, postgres, psql
	dir    string // removed by stop: data/ and the socket dir
	port   int
	runAs  *account // the postgres user, when we are root; nil: ourselves
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	stderr *Buffer       // postgres's log, for failure messages
}

// pgPrograms are the programs the harness runs; they must share a directory.
var pgPrograms = []string{"initdb", "postgres", "pg_isready", "psql"}

// pgBinDir finds the PostgreSQL programs: where initdb on PATH links to,
// or Debian's versioned /usr/lib/postgresql/N/bin (newest first). PATH's
// own directory is not enough: Debian's pg_isready and psql there are
// wrappers that pick a cluster of their own.
func pgBinDir() (string, error) {
	var dirs []string
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versioned, func(i, j int) bool { return pgVersion(versioned[i]) > pgVersion(versioned[j]) })
	for _, dir := range append(dirs, versioned...) {
		if pgHasAll(dir, pgPrograms) {
			return dir, nil
		}
	}
	return "", errNoPostgres
}

func pgHasAll(dir string, programs []string) bool {
	for _, p := range programs {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

func pgVersion(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func startPGServer() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	// Our own dir rather than t.TempDir: it must be reachable by the
	// postgres user and outlive a single test when shared.
	dir, err := os.MkdirTemp("", "hwebserver-pg-*")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, dir: dir}
	if err := s.prepare(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The free port is found before postgres binds it, so another process
	// may take it in between: try a few.
	for range 3 {
		if err = s.launch(); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

// prepare makes the data and socket dirs, owned by postgres when we are
// root (PostgreSQL refuses to run as root), and runs initdb.
func (s *pgServer) prepare() error {
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	for _, sub := range []string{"data", "sock"} {
		if err := os.Mkdir(filepath.Join(s.dir, sub), 0o700); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.runAs = &account{uid: uid, gid: gid}
		for _, sub := range []string{"data", "sock"} {
			if err := os.Chown(filepath.Join(s.dir, sub), uid, gid); err != nil {
				return err
			}
		}
	}
	initdb := s.command("initdb", "-D", filepath.Join(s.dir, "data"),
		"-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// command runs a server program as the postgres user when we are root.
// Switching credentials directly, rather than through runuser, makes
// postgres our own child, so signals reach it and Pdeathsig can stop it.
func (s *pgServer) command(program string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, program), args...)
	cmd.SysProcAttr = procAttr(s.runAs)
	return cmd
}

// launch starts postgres on a free loopback port and waits until it
// accepts connections.
func (s *pgServer) launch() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	s.stderr = &Buffer{}
	s.cmd = s.command("postgres", "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port), "-k", filepath.Join(s.dir, "sock"),
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300")
	s.cmd.Stderr = s.stderr
	// If the test binary dies before its cleanups run (a test timeout
	// panics), SIGQUIT makes postgres shut down at once instead of
	// lingering. Pdeathsig follows the thread that started the child, so
	// that thread stays locked until the child exits.
	quitWithParent(s.cmd.SysProcAttr)
	s.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		defer close(s.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.cmd.Wait()
	}()
	if err := <-started; err != nil {
		return err
	}
	exited := false
	ready := Poll(30*time.Second, func() bool {
		select {
		case <-s.done:
			exited = true
			return true
		default:
		}
		return exec.Command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run() == nil
	})
	if ready && !exited {
		return nil
	}
	s.cmd.Process.Kill()
	<-s.done
	return fmt.Errorf("postgres did not start on port %d:\n%s", port, s.stderr)
}

// psql runs one statement on the postgres database as the superuser.
func (s *pgServer) psql(statement string) error {
	out, err := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", "-d", "postgres",
		"-c", statement).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v\n%s", statement, err, out)
	}
	return nil
}

// stop asks postgres for a fast shutdown (SIGINT: roll back open
// transactions, end sessions), waits, and removes the files.
func (s *pgServer) stop() error {
	defer os.RemoveAll(s.dir)
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return nil
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("postgres ignored a fast shutdown for 20s; killed it\n%s", s.stderr)
	}
}
