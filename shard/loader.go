package shard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// LoaderConfig says how a Loader deals a dataset out to ranks in batches.
type LoaderConfig struct {
	Rank, Size int // this rank and the world size (Size 0 means 1)
	BatchSize  int // rows per batch on each rank
	Seed       uint64
	// Shuffle permutes every epoch (training); without it the order is
	// the dataset's (evaluation).
	Shuffle bool
	// DropLast cuts the epoch to a multiple of Size instead of padding it
	// with repeated samples (DistributedSampler's drop_last).
	DropLast bool
	// DropLastBatch drops each rank's final short batch (a DataLoader's
	// drop_last).
	DropLastBatch bool
	// GroupByLength batches samples of similar length together; see Note
	// [Length grouping]. MegabatchMult overrides HuggingFace's default mult.
	GroupByLength bool
	MegabatchMult int
	PadID         int64 // token id for padding (BERT: 0)
	// Mask, if set, masks every batch for masked-LM training (Batch.Targets;
	// see Note [Masking]).
	Mask *MaskConfig
	// Prefetch is how many batches are prepared ahead on a goroutine; 0
	// means 4. One more may be in the making.
	Prefetch int
	Logger   *slog.Logger // nil means slog.Default()
}

// DefaultLoaderConfig returns a training configuration for one rank:
// batch size 32, shuffled, seed 42 (HuggingFace's), prefetch 4.
func DefaultLoaderConfig() LoaderConfig {
	return LoaderConfig{Size: 1, BatchSize: 32, Seed: 42, Shuffle: true, Prefetch: 4}
}

// LoaderStats measures how a Loader kept up with its consumer.
type LoaderStats struct {
	Batches int64 // batches returned by Next
	// Stalls counts the batches that were not ready when Next asked for
	// them, so Stalls <= Batches; Wait is the total time Next waited for
	// them. A wait that ends in io.EOF (only the producer closing its queue
	// after the epoch's last batch), an error or Close is not a stall.
	Stalls int64
	Wait   time.Duration
}

// Loader hands one rank its batches, epoch after epoch, preparing them ahead
// on a goroutine. Next, State and Resume must be called from one goroutine;
// Close and Stats may be called from any.
type Loader struct {
	ds        *Dataset
	cfg       LoaderConfig
	log       *slog.Logger
	megabatch int   // see Note [Length grouping]
	pos       State // position after the last batch Next returned
	run       *producer
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	batches   atomic.Int64
	stalls    atomic.Int64
	waitNanos atomic.Int64
}

// producer prepares one epoch's batches.
type producer struct {
	out  chan prepared
	stop chan struct{}
	done chan struct{}
}

// prepared is a batch and the global offset once every rank has taken it.
type prepared struct {
	batch *Batch
	after int
}

// NewLoader returns a Loader at epoch 0, offset 0. A dataset with labels
// must have had ApplyLabels called.
func NewLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if cfg.Size == 0 {
		cfg.Size = 1
	}
	if cfg.Size < 0 || cfg.Rank < 0 || cfg.Rank >= cfg.Size || cfg.BatchSize < 1 {
		return nil, fmt.Errorf("shard: new loader: rank %d, size %d, batch size %d", cfg.Rank, cfg.Size, cfg.BatchSize)
	}
	if cfg.Mask != nil {
		if err := cfg.Mask.Validate(); err != nil {
			return nil, fmt.Errorf("shard: new loader for %s: %w", ds.name, err)
		}
	}
	if ds.labelIdx != nil && ds.labels == nil {
		return nil, fmt.Errorf("shard: new loader for %s: labels not mapped: call ApplyLabels first", ds.name)
	}
	cfg.Prefetch = cmpOr(cfg.Prefetch, 4)
	l := &Loader{ds: ds, cfg: cfg, log: cfg.Logger, closed: make(chan struct{})}
	if l.log == nil {
		l.log = slog.Default()
	}
	if cfg.GroupByLength {
		l.megabatch = megabatchSize(ds.Len(), cfg.BatchSize*cfg.Size, cfg.MegabatchMult)
	}
	l.pos = State{Seed: cfg.Seed, Rows: ds.Len(), Megabatch: l.megabatch, Shuffle: cfg.Shuffle}
	return l, nil
}

// BatchesPerEpoch returns the number of batches of a whole epoch, the same
// on every rank.
func (l *Loader) BatchesPerEpoch() int { return l.plan(State{}).batches() }

// BatchesLeft returns the number of batches left in the current epoch
// (after a Resume, possibly fewer than BatchesPerEpoch).
func (l *Loader) BatchesLeft() int { return l.plan(l.pos).batches() }

// Epoch returns the epoch that the next batch belongs to.
func (l *Loader) Epoch() uint64 { return l.pos.Epoch }

// State returns the position after the last batch Next returned. After an
// epoch's io.EOF it is the next epoch at offset 0.
func (l *Loader) State() State { return l.pos }

// Stats returns how long the consumer waited for batches.
func (l *Loader) Stats() LoaderStats {
	return LoaderStats{Batches: l.batches.Load(), Stalls: l.stalls.Load(), Wait: time.Duration(l.waitNanos.Load())}
}

// Resume moves the loader to s, typically from a checkpoint. The seed and
// megabatch come from s. See Note [Resharding] for a changed world size.
func (l *Loader) Resume(s State) error {
	if err := s.check(l.ds.Len()); err != nil {
		return fmt.Errorf("shard: resume %s: %w", l.ds.name, err)
	}
	if s.Shuffle != l.cfg.Shuffle || (s.Megabatch > 0) != l.cfg.GroupByLength {
		return fmt.Errorf("shard: resume %s: %w: state has shuffle=%v megabatch=%d, loader has shuffle=%v group by length=%v",
			l.ds.name, ErrBadState, s.Shuffle, s.Megabatch, l.cfg.Shuffle, l.cfg.GroupByLength)
	}
	if s.Seed != l.cfg.Seed {
		l.log.Warn("shard: resuming with the checkpoint's seed", "seed", s.Seed, "configured", l.cfg.Seed)
	}
	l.stopRun()
	l.pos, l.megabatch = s, s.Megabatch
	return nil
}

// Next returns the next batch of this rank, or io.EOF once at the end of
// each epoch (the next call starts the next epoch). It returns ErrClosed
// after Close, and ctx's error, wrapped, if ctx ends first.
func (l *Loader) Next(ctx context.Context) (*Batch, error) {
	select {
	case <-l.closed:
		return nil, ErrClosed
	default:
	}
	if l.run == nil {
		l.run = l.start(l.pos)
	}
	p, ok, err := l.receive(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		l.stopRun()
		l.pos = State{Seed: l.pos.Seed, Epoch: l.pos.Epoch + 1, Rows: l.pos.Rows, Megabatch: l.megabatch, Shuffle: l.pos.Shuffle}
		return nil, io.EOF
	}
	l.pos.Offset = p.after
	l.batches.Add(1)
	return p.batch, nil
}

// receive takes the next prepared batch, measuring any wait; ok is false
// at the end of the epoch.
func (l *Loader) receive(ctx context.Context) (p prepared, ok bool, err error) {
	select {
	case p, ok = <-l.run.out:
	default:
		start := time.Now()
		select {
		case p, ok = <-l.run.out:
		case <-ctx.Done():
			err = fmt.Errorf("shard: next batch of %s: %w", l.ds.name, ctx.Err())
		case <-l.closed:
			err = ErrClosed
		}
		if ok { // a batch that was not ready: a stall (see LoaderStats)
			l.stalls.Add(1)
			l.waitNanos.Add(int64(time.Since(start)))
		}
	}
	if !ok && err == nil && l.isClosed() {
		err = ErrClosed
	}
	return p, ok, err
}

func (l *Loader) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// Close stops the prefetching goroutine and waits for it. It may be called
// more than once and from any goroutine; later Next calls return ErrClosed.
func (l *Loader) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	l.wg.Wait()
	return nil
}

// start launches the producer of pos's epoch, from pos's offset.
func (l *Loader) start(pos State) *producer {
	p := &producer{out: make(chan prepared, l.cfg.Prefetch), stop: make(chan struct{}), done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(p.done)
		defer close(p.out)
		pl := l.plan(pos)
		pl.order = l.order(pos)
		l.produce(pl, p, pos.Epoch)
	}()
	return p
}

// stopRun stops the current producer, if any, and waits for it.
func (l *Loader) stopRun() {
	if l.run == nil {
		return
	}
	close(l.run.stop)
	<-l.run.done
	l.run = nil
}

// produce prepares pl's batches of epoch into p.out until done or stopped.
func (l *Loader) produce(pl plan, p *producer, epoch uint64) {
	for j := range pl.batches() {
		rows, repeated, after := pl.rows(j)
		b := prepared{collate(l.ds, rows, repeated, l.cfg.PadID), after}
		if l.cfg.Mask != nil {
			l.cfg.Mask.mask(b.batch, epoch)
		}
		select {
		case p.out <- b:
		case <-p.stop:
			return
		case <-l.closed:
			return
		}
	}
}

// plan returns this rank's plan for pos's epoch from pos's offset, without
// its order.
func (l *Loader) plan(pos State) plan {
	return plan{
		n: l.ds.Len(), start: pos.Offset,
		end:  streamEnd(l.ds.Len(), pos.Offset, l.cfg.Size, l.cfg.DropLast),
		rank: l.cfg.Rank, size: l.cfg.Size, batch: l.cfg.BatchSize, dropLast: l.cfg.DropLastBatch,
	}
}

// order returns the global order of pos's epoch. See Note [Sampler].
func (l *Loader) order(pos State) []int {
	n := l.ds.Len()
	var o []int
	if pos.Shuffle {
		o = Permutation(n, pos.Seed+pos.Epoch)
	} else {
		o = make([]int, n)
		for i := range o {
			o[i] = i
		}
	}
	if pos.Megabatch > 0 {
		groupByLength(o, l.ds.Length, pos.Megabatch)
	}
	return o
}
