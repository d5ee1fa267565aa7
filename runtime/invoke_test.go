package runtime

import (
	"net/http"
	"strings"
	"testing"
)

// Over a real server: a handler cancelled for overrunning the step budget
// leaves no trace on later requests, which each get the whole budget.
func TestStepBudgetPerRequest(t *testing.T) {
	ts := startServer(t, loopScript+`
@hwebserver.urlHandler("/work")
def work(request):
    x = 0
    for i in range(12000):
        x += 1
    return str(x)
`, func(o *Options) {
		o.MaxSteps = 200_000
		o.CLI.MaxNumThreads = 1
		o.CLI.Given["max_num_threads"] = true
	})
	for i := range 3 {
		if code, body, _ := ts.get(t, "/loop"); code != http.StatusServiceUnavailable || !strings.Contains(body, "execution steps") {
			t.Fatalf("/loop #%d: %d %q, want 503 for the step budget", i, code, body)
		}
		// Each /work takes well over half the budget: it passes only if
		// the step count starts from zero for every request.
		for j := range 10 {
			if code, body, _ := ts.get(t, "/work"); code != http.StatusOK || body != "12000" {
				t.Fatalf("/work #%d after /loop #%d: %d %q, want 200 12000", j, i, code, body)
			}
		}
	}
}
