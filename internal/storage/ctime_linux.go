package storage

import (
	"os"
	"syscall"
	"time"
)

// changeTime is fi's status change time (ctime), or the zero time.
func changeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return time.Time{}
}
