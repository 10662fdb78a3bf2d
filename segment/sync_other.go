//go:build !linux

package segment

import "github.com/stratalog/strata/internal/vfs"

func fdatasync(f vfs.OSFile) error { return f.OSFile().Sync() }

func dropPages(vfs.OSFile, int64, int64) {}
