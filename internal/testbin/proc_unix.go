//go:build unix

package testbin

import "syscall"

// account is a user to run a program as.
type account struct{ uid, gid int }

// procAttr runs a program as as, or as ourselves when as is nil.
func procAttr(as *account) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if as != nil {
		a.Credential = &syscall.Credential{Uid: uint32(as.uid), Gid: uint32(as.gid)}
	}
	return a
}
