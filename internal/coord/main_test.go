package coord

import (
	"os"
	"testing"

	logging "github.com/ipfs/go-log/v2"
)

func TestMain(m *testing.M) {
	// go-libp2p-raft logs every stream a closing host cuts off as an
	// error; the tests close hosts on purpose.
	_ = logging.SetLogLevel("raftlib", "fatal")
	os.Exit(m.Run())
}
