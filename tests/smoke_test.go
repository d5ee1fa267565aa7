package tests

import (
	"strings"
	"testing"
)

func TestSmokeHello(t *testing.T) {
	dir := WriteFiles(t, map[string]string{"app.star": `
@hwebserver.urlHandler("/")
def index(request):
    return "hi"
`})
	p := Start(t, dir, "app.star", "--port", "0")
	code, body, _ := Get(t, p.URL+"/")
	if code != 200 || !strings.Contains(body, "hi") {
		t.Fatalf("got %d %q", code, body)
	}
}
