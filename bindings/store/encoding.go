package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// The stored form of a value, the same on every backend.
//
// An int at top level is its decimal ASCII form ("-12"), so that Redis
// INCRBY and every backend's Incr work on it, and redis-cli shows it.
// Any other value is a tag byte and a body; no tag is '-' or a digit, so
// the two forms never collide:
//
//	'N' None   'T' True   'F' False
//	'i' int (inside a list or dict): zigzag varint
//	'f' float: 8 bytes, IEEE 754, big-endian (NaN and infinities kept)
//	's' str, 'b' bytes: uvarint length, then the bytes
//	'l' list: uvarint count, then each element
//	'd' dict: uvarint count, then per entry the key (uvarint length and
//	    bytes, keys sorted) and the value
//
// A tuple is stored as a list, so it comes back as a list. Binary rather
// than JSON because JSON loses bytes and the int/float distinction.
const (
	tagNone  = 'N'
	tagTrue  = 'T'
	tagFalse = 'F'
	tagInt   = 'i'
	tagFloat = 'f'
	tagStr   = 's'
	tagBytes = 'b'
	tagList  = 'l'
	tagDict  = 'd'
)

// maxDecodeDepth bounds nesting when decoding, as value.ToGo bounds it when
// encoding, so a foreign value in Redis cannot exhaust the stack.
const maxDecodeDepth = 512

// Encode returns the stored form of x, one of the kinds value.ToGo returns
// (nil, bool, int64, float64, string, []byte, []any, map[string]any).
func Encode(x any) ([]byte, error) {
	if i, ok := x.(int64); ok {
		return strconv.AppendInt(nil, i, 10), nil
	}
	return appendValue(nil, x)
}

func appendValue(b []byte, x any) ([]byte, error) {
	switch x := x.(type) {
	case nil:
		return append(b, tagNone), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), nil
	case string:
		return appendBytes(append(b, tagStr), x), nil
	case []byte:
		return appendBytes(append(b, tagBytes), string(x)), nil
	case []any:
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		for _, e := range x {
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = binary.AppendUvarint(append(b, tagDict), uint64(len(x)))
		for _, k := range keys {
			b = appendBytes(b, k)
			var err error
			if b, err = appendValue(b, x[k]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("store: cannot encode Go type %T", x)
}

func appendBytes(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errCorrupt is Decode's error for bytes that Encode did not make, such as
// a value another program wrote to the same Redis.
var errCorrupt = errors.New("not a value written by store")

// Decode returns the value whose stored form is b, as fresh Go values that
// share no memory with b.
func Decode(b []byte) (any, error) {
	if i, ok := parseInt(b); ok {
		return i, nil
	}
	d := decoder{b: b}
	x, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if len(d.b) != 0 {
		return nil, errCorrupt
	}
	return x, nil
}

// parseInt reads the top-level int form.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return 0, false
	}
	i, err := strconv.ParseInt(string(b), 10, 64)
	return i, err == nil
}

type decoder struct{ b []byte }

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDecodeDepth || len(d.b) == 0 {
		return nil, errCorrupt
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagNone:
		return nil, nil
	case tagTrue:
		return true, nil
	case tagFalse:
		return false, nil
	case tagInt:
		i, n := binary.Varint(d.b)
		if n <= 0 {
			return nil, errCorrupt
		}
		d.b = d.b[n:]
		return i, nil
	case tagFloat:
		if len(d.b) < 8 {
			return nil, errCorrupt
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f, nil
	case tagStr:
		s, err := d.bytes()
		return string(s), err
	case tagBytes:
		s, err := d.bytes()
		return bytes.Clone(s), err
	case tagList:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case tagDict:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, n)
		for range n {
			k, err := d.bytes()
			if err != nil {
				return nil, err
			}
			if out[string(k)], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errCorrupt
}

// count reads an element count, bounded by the bytes left (each element
// takes at least one) so a corrupt count cannot allocate without limit.
func (d *decoder) count() (int, error) {
	n, w := binary.Uvarint(d.b)
	if w <= 0 || n > uint64(len(d.b)-w) {
		return 0, errCorrupt
	}
	d.b = d.b[w:]
	return int(n), nil
}

func (d *decoder) bytes() ([]byte, error) {
	n, err := d.count()
	if err != nil {
		return nil, err
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s, nil
}
