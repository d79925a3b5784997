//go:build !unix

package measure

import "time"

func cpuTime() time.Duration { return time.Since(start) }
