package static

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

// ServeFile streams the file at path as a response with status: Range
// and conditional requests for a 200 (http.ServeContent), a plain copy
// for any other status. The file is removed afterwards when del is set.
// A file that cannot be opened is an error, and nothing is written.
func ServeFile(w http.ResponseWriter, r *http.Request, path string, status int, del bool) error {
	if del {
		defer os.Remove(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = errors.New("is a directory")
	}
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		http.ServeContent(w, r, filepath.Base(path), fi.ModTime(), f)
		return nil
	}
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.Copy(w, f)
	}
	return nil
}
