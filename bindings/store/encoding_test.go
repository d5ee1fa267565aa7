package store

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

func TestEncoding(t *testing.T) {
	for _, x := range []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		0.0, -1.5, math.Inf(1), math.SmallestNonzeroFloat64,
		"", "héllo", "123", "-", []byte{}, []byte{0, 0xff},
		[]any{}, []any{int64(1), "a", []any{nil, 2.0}, []byte("b")},
		map[string]any{}, map[string]any{"b": int64(-300), "a": map[string]any{"": []any{true}}},
	} {
		b, err := Encode(x)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", x, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) = %v", x, err)
		}
		if !reflect.DeepEqual(got, x) {
			t.Errorf("Decode(Encode(%#v)) = %#v", x, got)
		}
	}
	nan, _ := Decode(mustEncode(t, math.NaN()))
	if f, ok := nan.(float64); !ok || !math.IsNaN(f) {
		t.Errorf("NaN came back as %v", nan)
	}
}

// TestEncodingInt checks the form that Redis INCRBY and every Incr read.
func TestEncodingInt(t *testing.T) {
	for x, want := range map[int64]string{0: "0", 42: "42", -7: "-7", math.MinInt64: "-9223372036854775808"} {
		if got := string(mustEncode(t, x)); got != want {
			t.Errorf("Encode(%d) = %q, want %q", x, got, want)
		}
	}
	if got := mustEncode(t, "42"); bytes.Equal(got, []byte("42")) {
		t.Error(`the str "42" is stored like the int 42`)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	for _, b := range []string{"", "-", "x", "hello", "s\x05ab", "l\x02N", "d\x01\x01a", "f\x00", "NN", "99999999999999999999", "i"} {
		if x, err := Decode([]byte(b)); err == nil {
			t.Errorf("Decode(%q) = %#v, want an error", b, x)
		}
	}
}

func TestDecodeCopies(t *testing.T) {
	b := mustEncode(t, []any{[]byte("abc")})
	x, _ := Decode(b)
	b[len(b)-1] = 'X'
	if got := x.([]any)[0].([]byte); string(got) != "abc" {
		t.Errorf("the decoded bytes share memory with the input: %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, x := range []any{int64(-12), "s", []any{int64(1), 2.5, []byte("x")}, map[string]any{"k": nil}} {
		b, _ := Encode(x)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(x)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): %v", b, err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))): %v", b, err)
		}
	})
}

func mustEncode(t *testing.T, x any) []byte {
	t.Helper()
	b, err := Encode(x)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
