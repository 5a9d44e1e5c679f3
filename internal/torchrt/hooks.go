package torchrt

/*
#include <stdint.h>
int ddprun_register_grad_hook(void* t, int64_t token);
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/sugarme/gotch/ts"
)

// Note [Gradient hooks]: OnGradReady attaches a post hook to a leaf
// tensor's gradient accumulator, which autograd runs right after it has
// added the backward pass's gradient into .grad: from then on backward will
// not touch that gradient again. The hook calls back into Go on the thread
// running backward, in the middle of the cgo call that started it, so the
// callback must be short and must not call libtorch (gotch): it should only
// hand work to another goroutine. Hooks stay for the tensor's lifetime.

var hooks struct {
	sync.Mutex
	fns []func()
}

// OnGradReady calls fn each time backward has finished writing t's
// gradient. See Note [Gradient hooks] for what fn may do.
func OnGradReady(t *ts.Tensor, fn func()) error {
	hooks.Lock()
	token := len(hooks.fns)
	hooks.fns = append(hooks.fns, fn)
	hooks.Unlock()
	ok := C.ddprun_register_grad_hook(t.Ctensor(), C.int64_t(token)) == 1
	runtime.KeepAlive(t)
	if !ok {
		return fmt.Errorf("torchrt: registering a gradient hook failed (is the tensor a leaf that requires grad?)")
	}
	return nil
}

//export ddprunGradReady
func ddprunGradReady(token C.int64_t) {
	hooks.Lock()
	fn := hooks.fns[int(token)]
	hooks.Unlock()
	fn()
}
