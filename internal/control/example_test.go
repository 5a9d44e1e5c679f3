package control_test

import (
	"fmt"

	"github.com/ddprun/ddprun/internal/control"
)

// Subjects and keys are derived from the job id and the secret.
func Example() {
	fmt.Println(control.HeartbeatSubject("3f2a", 7))
	fmt.Println(control.StopSubject("3f2a"))
	fmt.Println(len(control.Token([]byte("a job secret of at least 16 bytes"))))
	rep := control.Nop() // a rank without a launcher
	rep.Heartbeat(control.Heartbeat{Step: 1})
	fmt.Println(rep.StopRequested() == nil)
	// Output:
	// ddprun.3f2a.hb.7
	// ddprun.3f2a.ctl.stop
	// 64
	// true
}
