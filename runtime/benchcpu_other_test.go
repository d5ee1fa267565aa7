//go:build !unix

package runtime

import "time"

// processCPU is 0 where the process's CPU time is not read: cpu-ns/op
// then reports 0.
func processCPU() time.Duration { return 0 }
