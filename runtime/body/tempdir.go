package body

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tempPrefix names the temp folders of hwebserver processes:
// hwebserver-PID in the system's temp folder.
const tempPrefix = "hwebserver-"

// OwnTempDir makes this process's temp folder for request bodies and
// uploads, os.TempDir()/hwebserver-PID, after removing the folders of
// processes that no longer run (a server killed with SIGKILL leaves its
// temp files behind; the next one sweeps them). remove deletes the folder
// and what is left in it, at exit.
func OwnTempDir(log *slog.Logger) (dir string, remove func(), err error) {
	base := os.TempDir()
	sweepTempDirs(base, log)
	dir = filepath.Join(base, tempPrefix+strconv.Itoa(os.Getpid()))
	if err := os.RemoveAll(dir); err != nil { // a dead process of the same pid
		return "", nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("temp folder for request bodies: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// sweepTempDirs removes the hwebserver-PID folders in base whose process
// is gone, and logs what it freed.
func sweepTempDirs(base string, log *slog.Logger) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), tempPrefix))
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) || err != nil || pid <= 0 || pid == os.Getpid() || alive(pid) {
			continue
		}
		path := filepath.Join(base, e.Name())
		files, _ := os.ReadDir(path)
		if err := os.RemoveAll(path); err != nil {
			log.Warn("cannot remove the temp folder of a stopped server", "path", path, "err", err)
			continue
		}
		log.Info("removed the temp folder of a stopped server", "path", path, "files", len(files))
	}
}
