package launcher_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ddprun/ddprun/launcher"
)

// A job of two ranks of a shell command, which print their identity.
func ExampleRun() {
	var out strings.Builder
	code, err := launcher.Run(context.Background(), launcher.Config{
		Command: []string{"/bin/sh", "-c", `echo "rank $RANK of $WORLD_SIZE"`},
		NProc:   2,
		GPUs:    0,
		Env:     os.Environ(),
		Stdout:  &syncBuilder{b: &out},
		Stderr:  discard{},
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sortStrings(lines)
	fmt.Println(code, err)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// 0 <nil>
	// [rank 1] rank 1 of 2
	// rank 0 of 2
}
