package control_test

import (
	"fmt"

	"github.com/ddprun/ddprun/internal/control"
)

// Subjects and keys are derived from the job id and the secret.
func Example() {
	fmt.Println(control.HeartbeatSubject("3f2a", 7))
	fmt.Println(control.StopSubject("3f2a"))
	user, _ := control.UserKey([]byte("a job secret of at least 16 bytes")) // the NATS server's only user
	fmt.Println(user[:1], len(user))
	rep := control.Nop() // a rank without a launcher
	rep.Heartbeat(control.Heartbeat{Step: 1})
	fmt.Println(rep.StopRequested() == nil)
	// Output:
	// ddprun.3f2a.hb.7
	// ddprun.3f2a.ctl.stop
	// U 56
	// true
}
