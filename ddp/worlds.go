package ddp

import (
	"sync"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/control"
)

// worldWatch reads a rank's in-place worlds as they come (Note [Recovery
// in place]) and keeps the newest. A world newer than the rank's
// communicator means that a rank of that communicator is gone, or its
// node: the watch closes the communicator, so that a collective blocked
// on a peer that will never answer (a host cut off, whose TCP connections
// stall without an RST) fails at once instead of after the ring's timeout.
type worldWatch struct {
	mu      sync.Mutex
	newest  control.World // Gen -1: none yet
	comm    collective.Comm
	gen     int  // comm's generation
	aborted bool // the watch closed comm
	ended   bool // no more worlds will come
	changed chan struct{}
	done    chan struct{}
}

func watchWorlds(worlds <-chan control.World, c collective.Comm, gen int) *worldWatch {
	w := &worldWatch{newest: control.World{Gen: -1}, comm: c, gen: gen, changed: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run(worlds)
	return w
}

func (w *worldWatch) run(worlds <-chan control.World) {
	for {
		select {
		case nw, ok := <-worlds:
			if !ok {
				w.mu.Lock()
				w.ended = true
				w.mu.Unlock()
				w.notify()
				return
			}
			w.add(nw)
		case <-w.done:
			return
		}
	}
}

// add keeps nw if it is the newest, and closes a communicator it makes
// stale.
func (w *worldWatch) add(nw control.World) {
	w.mu.Lock()
	if nw.Gen > w.newest.Gen {
		w.newest = nw
	}
	var stale collective.Comm
	if nw.Gen > w.gen && !w.aborted {
		stale, w.aborted = w.comm, true
	}
	w.mu.Unlock()
	if stale != nil {
		stale.Close()
	}
	w.notify()
}

func (w *worldWatch) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// next returns the newest world later than gen, whether one exists, and
// whether no more will come.
func (w *worldWatch) next(gen int) (control.World, bool, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newest, w.newest.Gen > gen, w.ended
}

// use registers c, of generation gen, as the rank's communicator.
func (w *worldWatch) use(c collective.Comm, gen int) {
	w.mu.Lock()
	w.comm, w.gen, w.aborted = c, gen, false
	stale := w.newest.Gen > gen
	w.aborted = stale
	w.mu.Unlock()
	if stale {
		c.Close()
	}
}

// closedIt reports whether the watch closed the rank's communicator for
// a newer world.
func (w *worldWatch) closedIt() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.aborted
}

func (w *worldWatch) stop() { close(w.done) }
