package control

// World is what a rank needs to know of a new generation that continues
// in place (Note [Recovery in place] in package ddp): the launchers'
// rdzv.world message, of which a rank reads these fields.
type World struct {
	Gen   int      `json:"gen"`
	Peers []string `json:"peers"` // ring address of every rank
	// InPlace marks a generation whose surviving ranks keep running; the
	// worlds of restarts, which start every rank afresh, lack it.
	InPlace bool `json:"in_place"`
}

// Recovered is a rank's report that it has the job's state back in
// generation Gen, at step Step.
type Recovered struct {
	Gen  int `json:"gen"`
	Rank int `json:"rank"`
	Step int `json:"step"`
}

// WorldSubject carries the launchers' worlds.
func WorldSubject(job string) string { return Subject(job, "rdzv.world") }

// RecoveredSubject carries the ranks' Recovered reports.
func RecoveredSubject(job string) string { return Subject(job, "ctl.recovered") }

// Recoverer is implemented by the Reporters of ranks that may recover in
// place (rankenv's Recovery is "inplace").
type Recoverer interface {
	// Worlds delivers the in-place worlds, in the order published.
	Worlds() <-chan World
	// Recovered tells the launchers that the rank is back.
	Recovered(r Recovered)
}
