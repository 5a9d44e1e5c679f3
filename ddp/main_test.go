package ddp

import (
	"os"
	"testing"

	"github.com/ddprun/ddprun/collective/nccl/nccltest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	nccltest.Cleanup() // the fake NCCL libraries the equivalence tests built
	os.Exit(code)
}
