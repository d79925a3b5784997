//go:build !unix

package measure

import "io/fs"

// DiskBytes is a file's length where the allocated size cannot be read
// portably: a sparse file counts at full length.
func DiskBytes(fi fs.FileInfo) int64 { return fi.Size() }

// fileIdentity is unknown here: every name counts.
func fileIdentity(fs.FileInfo) (fileID, bool) { return fileID{}, false }
