package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"ALLOWED_HOST", "ALLOWED_HOSTS", 1}, {"prot", "port", 1},
		{"run", "run", 0}, {"rn", "run", 1}, {"chekc", "check", 1}, {"serve", "run", 4}, {"", "abc", 3}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"port", "debug", "max-num-threads", "/checkout", "/cart"}
	for _, c := range []struct{ typed, want string }{
		{"prot", "port"}, {"DEBUG", "debug"}, {"max-num-thread", "max-num-threads"},
		{"/chekout", "/checkout"}, {"/xyzzy", ""}, {"", ""},
	} {
		if got := Closest(c.typed, names); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.typed, got, c.want)
		}
	}
}
