// Package netns makes test hosts out of Linux network namespaces, so that
// end-to-end tests (and people, with bench/netns-hosts.sh) can run a
// multi-host job on one machine with real links that can be slowed down
// and cut.
//
// New makes K hosts, each a network namespace with one interface, eth0,
// addressed Subnet.1 ... Subnet.K/24, plugged into a bridge that lives in
// a namespace of its own: the root namespace (the machine's own network)
// is never touched, and no two runs can clash, since every address and
// interface lives inside namespaces whose names are unique to the run:
//
//	n, err := netns.New(ctx, netns.Config{Hosts: 2, Rate: "100mbit"})
//	if err != nil { ... }
//	defer n.Close()
//	a, b := n.Hosts[0], n.Hosts[1]               // a.Addr is "10.213.0.1"
//	srv := b.Command(ctx, "ddprun", "--nodes", "2", ...)
//	srv.Stdout = os.Stdout                        // an ordinary *exec.Cmd
//	srv.Start()
//	b.Cut(ctx)                                    // the cable is pulled: no RST, no FIN
//	b.Restore(ctx)
//
// Note [Cutting a link]: Cut sets the bridge's end of the host's veth pair
// down. The host's eth0 loses its carrier but keeps its address and
// routes, so processes inside one host still talk to each other over
// Addr, while every packet to or from another host is dropped silently,
// as when a cable is pulled or a switch port dies: peers learn of it only
// from their own timeouts. (Setting the host's own eth0 down instead
// would remove its routes and make local connections fail at once, which
// no real outage does.)
//
// Note [Rates]: Rate installs a token bucket (tbf, burst 256 KiB, latency
// 20 ms) on both ends of every link, so each direction of each host's
// link is limited; SetRate changes one host's link later. Delay and loss
// need netem, which not every kernel has; this package does not use it.
//
// Close kills whatever still runs in the hosts and deletes every
// namespace (the veth pairs and the bridge go with them). It is safe to
// call more than once. Namespaces left behind by a test process that was
// killed before it could clean up are removed by the next New, whose
// names carry the creating process's id (Note [Stale namespaces]).
//
// Everything is done by running ip(8) and tc(8) from iproute2, as root (or
// with CAP_NET_ADMIN and CAP_SYS_ADMIN). Check says whether that can work
// here; ForTest skips a test with the reason when it cannot.
package netns
