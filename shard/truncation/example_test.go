package truncation_test

import (
	"fmt"

	"github.com/ddprun/ddprun/shard/truncation"
)

func Example() {
	ids := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10} // a text's tokens
	const maxLen = 8                            // [CLS], 6 tokens, [SEP]
	for _, flag := range []string{"head", "tail", "head+tail", "head+tail:2"} {
		m, err := truncation.Parse(flag, maxLen)
		if err != nil {
			panic(err)
		}
		head, tail := m.Keep(len(ids), maxLen-2)
		fmt.Println(m, append(ids[:head:head], ids[len(ids)-tail:]...))
	}
	// Output:
	// head [1 2 3 4 5 6]
	// tail [5 6 7 8 9 10]
	// head+tail:1 [1 6 7 8 9 10]
	// head+tail:2 [1 2 7 8 9 10]
}
