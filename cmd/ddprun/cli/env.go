package cli

// The environment of a rank process: torchrun's names for the identity,
// DDPRUN_* for the rest. A rank can be started by hand with these set.
const (
	EnvRank      = "RANK"             // this rank, 0-based
	EnvWorldSize = "WORLD_SIZE"       // number of ranks
	EnvPeers     = "DDPRUN_PEERS"     // comma-separated host:port of every rank, in rank order
	EnvJobID     = "DDPRUN_JOB_ID"    // job id, the same on every rank
	EnvSecret    = "DDPRUN_SECRET"    // per-job secret (hex), the same on every rank
	EnvListenFD  = "DDPRUN_LISTEN_FD" // if set: an inherited listening socket to use
)
