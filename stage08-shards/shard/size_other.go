//go:build !unix

package shard

import "io/fs"

// diskBytes is a file's length where the allocated size cannot be read
// portably: a sparse file counts at full length.
func diskBytes(fi fs.FileInfo) int64 { return fi.Size() }
