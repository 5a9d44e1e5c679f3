package hccl_test

import (
	"fmt"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/hccl"
)

// HCCL's reduction codes are NCCL's except that Min and Max are swapped.
func ExampleOpOf() {
	mx, _ := hccl.OpOf(collective.Max)
	mn, _ := hccl.OpOf(collective.Min)
	fmt.Println("max", mx, "min", mn)
	// Output: max 3 min 2
}
