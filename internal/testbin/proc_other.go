//go:build !unix

package testbin

import "syscall"

// account is a user to run a program as; only Unix switches users.
type account struct{ uid, gid int }

func procAttr(*account) *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
