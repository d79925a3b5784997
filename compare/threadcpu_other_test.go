//go:build !linux

package compare

import "time"

// threadCPU is not measured outside Linux: 0.
func threadCPU() time.Duration { return 0 }

// processCPU is not measured outside Linux: 0.
func processCPU() time.Duration { return 0 }
