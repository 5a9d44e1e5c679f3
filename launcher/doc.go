// Package launcher turns one command per machine into a running
// data-parallel job: it starts the rank processes, tells each who it is
// (the rankenv contract), supervises them, and stops, diagnoses and
// restarts the job as a whole.
//
// On one machine:
//
//	ddprun --nproc 2 train --train train.csv ...
//
// runs Run with Config{NProc: 2, Command: [ddprun train --train ...]}: the
// launcher opens one ring listener per rank on 127.0.0.1, port 0 (passed
// to the rank as an inherited socket, DDPRUN_LISTEN_FD), generates a job
// secret, starts an embedded NATS server on 127.0.0.1 for heartbeats and
// stop requests, and starts the ranks with RANK, WORLD_SIZE, DDPRUN_PEERS,
// ... in their environment. Their output is prefixed with "[rank N] ",
// except rank 0's stdout, which is the job's result and passes as it is
// (and rank 0's stderr goes straight to a terminal, so its progress bar
// redraws in place), or written to --log-dir.
//
// On several machines, the same command with --nodes N on each, and
// --join host:port on all but the first:
//
//	node0$ DDPRUN_SECRET=$S ddprun --nodes 2 --nproc 4 train ...
//	node1$ DDPRUN_SECRET=$S ddprun --nodes 2 --nproc 4 --join node0:7946 train ...
//
// The launchers find each other with memberlist (gossip encrypted with a
// key derived from the secret; see Note [Membership]) and agree on the
// world over NATS (the first node runs an authenticated embedded server;
// see Note [Control plane]). The rendezvous (Note [Rendezvous]) is a pure
// state machine tested with scripts in testdata/rdzv.
//
// Supervision (Note [Supervision]): any rank exiting non-zero or by a
// signal, a node leaving, or a stall (Note [Hang diagnosis]) stops the
// whole job on every node within seconds and prints a root-cause summary
// (rank, node, exit code or signal, last stderr lines). With
// Config.MaxRestarts the job restarts from its last checkpoint in a new
// generation (DDPRUN_RESTART); with --nodes MIN:MAX it continues with the
// nodes that remain. SIGINT/SIGTERM ask the ranks to checkpoint and exit
// (exit code 3), then kill them after Config.Grace.
//
// The launcher never touches tensors: it does not import gotch, bert or
// ddp (TestImportWall).
package launcher
