//go:build !linux

package testbin

import "syscall"

// quitWithParent does nothing outside Linux: only Linux has a parent-death
// signal. A killed test binary may leave its postgres behind there.
func quitWithParent(*syscall.SysProcAttr) {}
