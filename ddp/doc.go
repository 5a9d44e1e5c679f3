// Package ddp is one rank's data-parallel trainer: run on N ranks it
// behaves like one training run on the N-times larger global batch.
//
// A run, as `ddprun train` drives it:
//
//	id, _ := rankenv.FromEnv(os.Getenv)             // who am I; single rank if unset
//	cfg := ddp.DefaultConfig()
//	cfg.Train, cfg.Val, cfg.Test = "train.csv", "val.csv", "test.csv"
//	cfg.Preset = "mini"                              // or cfg.Model = "./bert-base-uncased"
//	comm, _ := ddp.OpenComm(ctx, id, cfg, log)       // ring or NCCL to the peers (collective.Solo alone)
//	res, err := ddp.Train(ctx, cfg, ddp.Env{ID: id, Comm: comm, Stderr: os.Stderr})
//
// Inside, every step:
//
//  1. each rank takes its share of the global batch (package shard's
//     DistributedSampler contract: same seed, same epoch order everywhere);
//  2. forward and backward on libtorch (package bert), on the CPU or a
//     CUDA device (Note [Devices and backends]), gradients written
//     straight into flat bucket buffers (Note [Gradient views]);
//  3. the buckets are averaged over the ranks (package collective: the TCP
//     ring, or NCCL on CUDA; bf16 on the wire by default with several
//     ranks), in the order of Note [Bucket order];
//  4. the averaged gradients are clipped by their global norm and the
//     optimizer updates the weights (package ddp/optim on host memory, or
//     package ddp/devopt over flat buffers on any device: Note [Optimizer
//     implementations]), the same way on every rank, so the replicas stay
//     identical without ever sending weights again.
//
// The same trainer pretrains: with cfg.Objective, cfg.MLMProbability =
// ddp.ObjectiveMaskedLM, 0.15 and cfg.Baseline = "none" (`ddprun pretrain`)
// the loaders mask the text (shard's Note [Masking]),
// the model carries BERT's masked-LM head, and the loss is normalised by
// the global batch's masked tokens (Note [Masked-token normalisation]);
// buckets, all-reduce, optimizer, schedule, checkpoints and resume are
// shared, behind a small seam (objective.go).
//
// Evaluation reduces exact counts over the ranks; rank 0 writes atomic,
// checksummed checkpoints; a resumed run continues bit for bit (Note
// [Dropout seeds]); the final model is an HF model folder. The test that
// defines correctness is TestEquivalence: N ranks over the ring (or NCCL)
// equal one process on the whole batch, step by step.
package ddp
