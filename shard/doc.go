// Package shard is ddprun's data path: it reads a split (CSV, TSV or
// JSONL), tokenizes it once, in parallel and with an on-disk cache, maps its
// labels to class ids, and deals it out to the ranks of a data-parallel job
// in dynamically padded batches, prepared ahead on a goroutine, from a
// position that a checkpoint can record and restore, also at another world
// size. It is pure Go: no cgo, no libtorch.
//
// # Reading and tokenizing
//
// Load reads a file and tokenizes it with a Tokenizer (bert/wordpiece
// provides one). Columns default to "text" and "label"; a second text
// column makes sentence pairs. Bad input is an error naming file:line
// (and column), or, by policy, skipped (empty texts) or repaired (invalid
// UTF-8), and counted:
//
//	train, err := shard.Load(ctx, "train.csv", shard.Config{
//		Read:           shard.ReadConfig{Text: "text", Label: "label", EmptyText: shard.PolicySkip},
//		TokenizeConfig: shard.TokenizeConfig{Tokenizer: tok, MaxLen: 512},
//		CacheDir:       ".cache/tokens", // see Note [Token cache]
//		Logger:         log,
//	})
//
// TokenizeConfig.Truncation says which tokens a row longer than MaxLen
// keeps: its head (the zero value), its tail or both (package truncation).
// Huge rows are cut to the bytes those tokens come from before tokenizing;
// see Note [Pre-cut].
//
// Every rank loads every split: tokenizing is deterministic, so all ranks
// hold the same rows, and the token cache makes restarts cheap.
//
// # Labels
//
// Build the label map from the training split, keep it with the model
// (LabelMap marshals to HF config.json's id2label and label2id), and apply
// it to every split; a validation label that training lacks is an error
// naming its file and line:
//
//	labels, err := shard.BuildLabelMap(train.LabelValues(), nil) // or LabelMapFromHF(cfg.ID2Label)
//	err = train.ApplyLabels(labels)
//	err = val.ApplyLabels(labels)
//
// # Batches
//
// A Loader gives this rank its batches, epoch after epoch. Next returns
// io.EOF once at the end of each epoch; every rank gets the same number of
// batches (see Note [Sampler]), so no rank waits forever in an all-reduce:
//
//	cfg := shard.DefaultLoaderConfig()
//	cfg.Rank, cfg.Size, cfg.BatchSize, cfg.Seed = rank, size, 16, 42
//	cfg.GroupByLength = true // optional; see Note [Length grouping]
//	ld, err := shard.NewLoader(train, cfg)
//	defer ld.Close()
//	steps := epochs * ld.BatchesPerEpoch() // for the LR schedule
//	for ld.Epoch() < epochs {
//		b, err := ld.Next(ctx)
//		if errors.Is(err, io.EOF) {
//			continue // next epoch
//		}
//		... // b.IDs, b.TypeIDs, b.Mask: [b.B][b.T] int64; b.Labels: [b.B]
//		checkpoint.Data = ld.State() // JSON; after the step that used b
//	}
//
// Batches are padded to their longest row, not to MaxLen. For evaluation
// set Shuffle to false and leave out rows marked Batch.Repeated, which only
// pad the last step so that every rank has as many rows.
//
// For masked-language-model training set LoaderConfig.Mask: every batch
// then comes masked as HF's DataCollatorForLanguageModeling masks it, the
// targets in Batch.Targets, the masks a function of (seed, epoch, row) only,
// so every world size and every resume sees the same (Note [Masking]):
//
//	cfg.Mask = &shard.MaskConfig{Prob: 0.15, MaskID: 103, VocabSize: 30522,
//		Special: []int64{0, 100, 101, 102, 103}, Seed: 42}
//	...
//	pos, targets := b.MaskedPositions() // where the MLM head runs, and what it predicts
//
// # Resuming
//
// ld.Resume(state) continues exactly after the batch where State was taken.
// The order of an epoch depends on the seed and the epoch only, so a run
// can resume at a different world size; see Note [Resharding] for what
// changes in the batches.
//
// Indices is the bare sampler, with PyTorch DistributedSampler's semantics
// but its own permutation: the same seed gives another order than
// torch.randperm (see Note [Permutation]).
package shard
