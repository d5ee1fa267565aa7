package bindings

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/hwebserver/hwebserver/bindings/value"
	"go.starlark.net/starlark"
)

// SessionCookie is the name of the session cookie (Flask's).
const SessionCookie = "session"

// maxCookie is what browsers keep of one cookie, name and attributes
// included (RFC 6265 asks them to keep at least 4096 bytes).
const maxCookie = 4096

// minSecretKey is the shortest SECRET_KEY accepted: a key that short could
// be guessed, and every session with it forged.
const minSecretKey = 16

// SessionCodec seals session cookies: AES-256-GCM under a key derived from
// the settings' SECRET_KEY, so a cookie is both secret and signed; a cookie
// changed by the client, or sealed under another key, opens as an empty
// session. Safe for concurrent use.
type SessionCodec struct {
	aead cipher.AEAD
}

// NewSessionCodec derives the cookie key from secret.
func NewSessionCodec(secret string) (*SessionCodec, error) {
	if len(secret) < minSecretKey {
		return nil, fmt.Errorf("SECRET_KEY: got %d characters, want at least %d (a long random string, such as the output of python3 -c 'import secrets; print(secrets.token_hex(32))')", len(secret), minSecretKey)
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "hwebserver session cookie", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SessionCodec{aead: aead}, nil
}

func (c *SessionCodec) seal(plain []byte) string {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plain)+c.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, plain, []byte(SessionCookie)))
}

func (c *SessionCodec) open(cookie string) ([]byte, bool) {
	data, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(data) < c.aead.NonceSize() {
		return nil, false
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, data[:n], data[n:], []byte(SessionCookie))
	return plain, err == nil
}

// session is the state of request.session() for one request.
type session struct {
	dict *starlark.Dict
	orig string // the JSON the cookie held; "" when there was none
	had  bool   // the request carried a session cookie, valid or not
}

// errNoSecretKey is session()'s error without SECRET_KEY.
var errNoSecretKey = errors.New("sessions need SECRET_KEY in the settings file: a long random string that signs and encrypts the session cookie, such as the output of python3 -c 'import secrets; print(secrets.token_hex(32))' (see docs/pages.md)")

// requestSession returns the session: a dict kept in a signed, encrypted
// cookie. Changes are written back on the response (see SessionCookie).
func requestSession(r *Request, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	if r.session != nil {
		return r.session.dict, nil
	}
	if r.Sessions == nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), errNoSecretKey)
	}
	s := &session{dict: starlark.NewDict(0)}
	if c, err := r.HTTP.Cookie(SessionCookie); err == nil {
		s.had = true
		if plain, ok := r.Sessions.open(c.Value); ok {
			if v, err := value.DecodeJSON(thread, plain); err == nil {
				if d, ok := v.(*starlark.Dict); ok {
					s.dict, s.orig = d, string(plain)
				}
			}
		}
	}
	r.session = s
	return s.dict, nil
}

// SessionUsed reports that the handler called request.session(): its
// response depends on the request's cookie (Vary: Cookie, as Django's
// session middleware says).
func (r *Request) SessionUsed() bool { return r.session != nil }

// SessionCookie returns the Set-Cookie value that writes back a session
// the handler changed, or "" when there is nothing to write. Call it under
// the interpreter lock once the handler returned: it reads the dict.
func (r *Request) SessionCookie() (string, error) {
	s := r.session
	if s == nil {
		return "", nil
	}
	enc, err := EncodeJSON(s.dict)
	if err != nil {
		return "", fmt.Errorf("request.session: %v (a session holds JSON values: str, int, float, bool, None, and lists and dicts of them)", err)
	}
	if string(enc) == s.orig || (s.dict.Len() == 0 && !s.had) {
		return "", nil
	}
	c := &http.Cookie{Name: SessionCookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.secure()}
	if s.dict.Len() == 0 {
		c.MaxAge = -1 // cleared: the browser drops the cookie
	} else {
		c.Value = r.Sessions.seal(enc)
	}
	line := c.String()
	if len(line) > maxCookie {
		return "", fmt.Errorf("request.session: the session cookie would be %d bytes, over the %d that browsers keep; keep large data in store or sql and only its key in the session", len(line), maxCookie)
	}
	return line, nil
}
