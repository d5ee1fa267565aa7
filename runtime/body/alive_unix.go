//go:build unix

package body

import (
	"errors"
	"syscall"
)

// alive reports whether process pid exists (signal 0 checks without
// sending). A process of another user answers EPERM: it exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
