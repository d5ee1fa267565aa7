//go:build !unix

package body

// alive cannot tell here: every process is taken to run, and its temp
// folder stays.
func alive(int) bool { return true }
