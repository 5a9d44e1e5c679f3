package shard

// plan is one rank's batches of one epoch, from a start offset. See Note
// [Sampler] and Note [Resharding].
type plan struct {
	n          int   // dataset rows
	order      []int // the epoch's global order; needed by rows only
	start, end int   // stream positions [start, end)
	rank, size int
	batch      int
	dropLast   bool // drop this rank's final short batch
}

// count returns the number of samples this rank takes.
func (p plan) count() int { return (p.end - p.start) / p.size }

// batches returns the number of batches this rank gets; it is the same on
// every rank.
func (p plan) batches() int {
	c := p.count()
	if p.dropLast {
		return c / p.batch
	}
	return (c + p.batch - 1) / p.batch
}

// rows returns batch j's dataset rows, which of them are repeats (nil if
// none), and the global offset once every rank has taken batch j.
func (p plan) rows(j int) (rows []int, repeated []bool, after int) {
	lo, hi := j*p.batch, min((j+1)*p.batch, p.count())
	rows = make([]int, 0, hi-lo)
	n := p.n
	for k := lo; k < hi; k++ {
		pos := p.start + k*p.size + p.rank
		rows = append(rows, p.order[pos%n])
		if pos >= n {
			if repeated == nil {
				repeated = make([]bool, hi-lo)
			}
			repeated[k-lo] = true
		}
	}
	return rows, repeated, p.start + hi*p.size
}
