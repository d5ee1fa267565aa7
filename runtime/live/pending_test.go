package live

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/runtime/script"
)

func TestSavePending(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.star")
	if err := os.WriteFile(settings, []byte("DEBUG = True\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	full := []*script.File{{Display: "app.star", Src: []byte("x = 1\n")}, {Display: "missing.star"}}
	if got := SavePending(full, settings); got != "" {
		t.Errorf("nothing empty: %q", got)
	}
	withEmpty := append(full, &script.File{Display: "lib.star", Src: []byte{}})
	if got := SavePending(withEmpty, settings); got != "lib.star" {
		t.Errorf("an empty module: %q, want lib.star", got)
	}
	if err := os.WriteFile(settings, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := SavePending(full, settings); !strings.HasSuffix(got, "settings.star") {
		t.Errorf("an empty settings file: %q", got)
	}
	if got := SavePending(full, ""); got != "" {
		t.Errorf("no settings file: %q", got)
	}
}

func TestNeedsRestartWarnsOncePerChange(t *testing.T) {
	var buf bytes.Buffer
	rl := &Reloader{log: slog.New(slog.NewTextHandler(&buf, nil))}
	for _, changes := range [][]string{{"port"}, {"port"}, nil, {"port"}, {"port", "the settings' MAX_FIELDS"}} {
		rl.NeedsRestart(changes)
	}
	if got := strings.Count(buf.String(), "restart it to apply them"); got != 3 {
		t.Errorf("%d warnings, want 3 (port, port again after it was undone, then MAX_FIELDS too):\n%s", got, buf.String())
	}
}
