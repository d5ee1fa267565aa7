package bindings

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// TestUploadedFile runs the UploadedFile methods from Starlark on one file
// in memory and one on disk.
func TestUploadedFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	content := []byte("hello, upload\n")
	diskPath := filepath.Join(dir, "spilled")
	if err := os.WriteFile(diskPath, content, 0o600); err != nil {
		t.Fatal(err)
	}
	temps := &TempFiles{}
	temps.Add(diskPath)
	mem := &UploadedFile{Filename: "a.txt", ContentType: "text/plain", Length: int64(len(content)), Data: content, Temps: temps}
	disk := &UploadedFile{Filename: "b.bin", ContentType: "application/octet-stream", Length: int64(len(content)), Path: diskPath, Temps: temps}
	sum := sha256.Sum256(content)
	script := filepath.Join(dir, "scripts", "t.star")
	src := `
def check(f, in_memory):
    if f.isInMemory() != in_memory: fail("isInMemory", f.isInMemory())
    if f.size() != 14: fail("size", f.size())
    if f.read() != b"hello, upload\n": fail("read", f.read())
    if f.read(5) != b"hello": fail("read(5)", f.read(5))
    if f.read(max_size=0) != b"": fail("read(0)")
    if f.sha256() != SUM: fail("sha256", f.sha256())

check(mem, True)
check(disk, False)
if mem.name() != "a.txt" or mem.contentType() != "text/plain": fail("name/contentType")
if mem.temporaryFilePath() != "": fail("in memory has a path")
if disk.temporaryFilePath() != DISK: fail("disk path", disk.temporaryFilePath())

mem.saveToDisk()
path = mem.temporaryFilePath()
if path == "" or mem.isInMemory(): fail("saveToDisk did not save")
check_after = mem.read()
if check_after != b"hello, upload\n": fail("read after saveToDisk")
mem.saveToDisk()
if mem.temporaryFilePath() != path: fail("second saveToDisk made another file")

saved = disk.saveAs("out/kept.bin")
if not saved.endswith("/scripts/out/kept.bin"): fail("saveAs path", saved)
SAVED = saved
`
	pre := starlark.StringDict{"mem": mem, "disk": disk, "SUM": starlark.String(hex.EncodeToString(sum[:])), "DISK": starlark.String(diskPath)}
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{TopLevelControl: true, GlobalReassign: true}, &starlark.Thread{}, script, src, pre)
	if err != nil {
		t.Fatal(err)
	}
	saved := string(globals["SAVED"].(starlark.String))
	if got, err := os.ReadFile(saved); err != nil || string(got) != string(content) {
		t.Errorf("saveAs wrote %q (%v)", got, err)
	}
	memPath := mem.Path
	if !strings.HasPrefix(memPath, dir) {
		t.Errorf("saveToDisk wrote %q, outside TMPDIR %q", memPath, dir)
	}

	// saveAs refuses to replace a file unless asked.
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, script, `disk.saveAs("out/kept.bin")`, pre)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("saveAs over a file: %v", err)
	}
	if _, err = starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, script, `mem.saveAs("out/kept.bin", overwrite=True)`, pre); err != nil {
		t.Errorf("saveAs overwrite=True: %v", err)
	}

	// Temp files go with the request; files saved with saveAs stay.
	temps.RemoveAll()
	for _, p := range []string{diskPath, memPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after RemoveAll", p)
		}
	}
	if _, err := os.Stat(saved); err != nil {
		t.Errorf("saved file gone: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(saved), ".*part*")); len(left) != 0 {
		t.Errorf("partial files left: %v", left)
	}
}

// Holders counts the TempFiles that hold files: once from the first file
// to RemoveAll, however many files; RemoveAll of an empty set counts
// nothing.
func TestTempFilesHolders(t *testing.T) {
	var holders atomic.Int64
	dir := t.TempDir()
	a, b := &TempFiles{Holders: &holders}, &TempFiles{Holders: &holders}
	b.RemoveAll()
	for i, tf := range []*TempFiles{a, a, b} {
		path := filepath.Join(dir, fmt.Sprint("f", i))
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		tf.Add(path)
	}
	if n := holders.Load(); n != 2 {
		t.Fatalf("holders = %d with two sets holding files, want 2", n)
	}
	a.RemoveAll()
	a.RemoveAll()
	if n := holders.Load(); n != 1 {
		t.Errorf("holders = %d after one set was removed (twice), want 1", n)
	}
	b.RemoveAll()
	if n := holders.Load(); n != 0 {
		t.Errorf("holders = %d after both, want 0", n)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d files left", len(left))
	}
}
