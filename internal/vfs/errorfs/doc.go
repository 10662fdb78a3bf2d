// Package errorfs wraps a vfs.FS to inject errors into chosen operations, for fault tests:
// fail the n-th operation (OnIndex), or every operation of chosen kinds (OnKinds).
//
// A failed Write or WriteAt first writes half of its buffer, as a torn write would, then
// returns the injected error. The injectors of this package return it as the os package
// would: an *fs.PathError naming the operation and the file, whose cause wraps ErrInjected
// and, when the injector's Err is set, that error too (syscall.ENOSPC, syscall.EIO, …).
//
// It imports vfs only.
package errorfs
