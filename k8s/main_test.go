package k8s_test

import (
	"os"
	"testing"

	"github.com/ddprun/ddprun/internal/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup() // the binary TestSimulatedPods built
	os.Exit(code)
}
