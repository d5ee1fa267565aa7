package testbin

import "syscall"

// quitWithParent asks Linux to send the child SIGQUIT if the thread that
// started it dies, so that a test binary killed by its timeout does not
// leave a postgres behind.
func quitWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
