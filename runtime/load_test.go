package runtime

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hwebserver/hwebserver/internal/testbin"
	"github.com/hwebserver/hwebserver/runtime/logs"
	"github.com/hwebserver/hwebserver/runtime/script"
)

// print() goes to the log, prefixed with the file and line that printed,
// in loaded files too; the server's loader gives handlers their modules.
func TestLoaderPrintAndServerLoad(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	testbin.WriteTree(t, dir, map[string]string{
		"main.star": `load("lib/routes.star", "register")
print("main says hi")
register()
`,
		"lib/routes.star": `
def index(request):
    return "index"

def register():
    print("registering")
    hwebserver.urlHandler("/")(index)
`,
	})
	var logBuf testbin.Buffer
	level := new(slog.LevelVar)
	srv := New(Options{Script: "main.star", Check: true, Logger: logs.NewLogger(&logBuf, level), Level: level})
	if err := srv.Main(context.Background()); err != nil {
		t.Fatal(script.FormatError(err))
	}
	log := logBuf.String()
	for _, want := range []string{"main.star:2: main says hi", "lib/routes.star:6: registering"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	reg := srv.Registry()
	if reg == nil || len(reg.Handlers) != 1 || reg.Handlers[0].Path != "/" || reg.Handlers[0].Where != "lib/routes.star:7" {
		t.Fatalf("registry: %+v", reg)
	}
}
