//go:build !linux

package log

import (
	"io"

	"github.com/stratalog/strata/internal/vfs"
)

func sendfile(w io.Writer, f vfs.OSFile, pos, n int64) (int64, bool, error) { return 0, false, nil }
