package netns_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ddprun/ddprun/internal/netns"
)

// Two hosts on a 100 Mbit/s link: a job's first node in one, its second
// in the other, and the second's cable pulled for a while. (Not run by go
// test: it needs root; the tests in this package run the same steps.)
func Example() {
	ctx := context.Background()
	n, err := netns.New(ctx, netns.Config{Hosts: 2, Rate: "100mbit"})
	if err != nil {
		log.Fatal(err) // errors.Is(err, netns.ErrUnavailable) when not root
	}
	defer n.Close()
	a, b := n.Hosts[0], n.Hosts[1]
	first := a.Command(ctx, "ddprun", "--nodes", "2", "--bind", a.Addr, "train", "...")
	second := b.Command(ctx, "ddprun", "--nodes", "2", "--bind", b.Addr, "--join", a.Addr+":7946", "train", "...")
	first.Stderr, second.Stderr = os.Stderr, os.Stderr
	if err := first.Start(); err != nil {
		log.Fatal(err)
	}
	if err := second.Start(); err != nil {
		log.Fatal(err)
	}
	b.Cut(ctx) // no RST, no FIN: the others find out from their timeouts
	b.Restore(ctx)
	fmt.Println(first.Wait(), second.Wait())
}
