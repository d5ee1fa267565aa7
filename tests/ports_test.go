package tests

import (
	"strings"
	"testing"
	"time"
)

// Every kind of registration on a port run() does not open is warned
// about at start, as a URL handler is (issue 9: WebSockets and static
// mounts were forgotten).
func TestUnservedPortsEveryKind(t *testing.T) {
	dir := WriteFiles(t, map[string]string{
		"public/a.txt": "a",
		"app.star": `
@hwebserver.urlHandler("/u", ports=["admn"])
def u(request):
    return "u"

@hwebserver.apiFunction(ports=["admn"])
def f(request):
    return 1

hwebserver.webSocket("/ws", ports=["admn"])(hwebserver.WebSocket())
hwebserver.registerStaticFilesDirectory("public", url_prefix="/files", port="admn")
hwebserver.run(port=0)
`,
	})
	p := Start(t, dir, "app.star")
	for _, want := range []string{
		`URL handler registered for a port run() does not open what=/u ports=admn`,
		`API function registered for a port run() does not open what=f ports=admn`,
		`WebSocket registered for a port run() does not open what=/ws ports=admn`,
		`static mount registered for a port run() does not open what=/files ports=admn`,
	} {
		WaitFor(t, 5*time.Second, want, func() bool { return strings.Contains(p.Stderr(), want) })
	}
}
