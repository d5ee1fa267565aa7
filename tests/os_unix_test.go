//go:build unix

package tests

import "syscall"

// setRecvBuffer sets a socket's receive buffer before it connects.
func setRecvBuffer(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

// processAlive reports whether process pid exists (not yet reaped).
func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }
