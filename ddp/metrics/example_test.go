package metrics_test

import (
	"fmt"

	"github.com/ddprun/ddprun/ddp/metrics"
)

func Example() {
	labels := []string{"ham", "spam"}
	// Two ranks evaluate their shards.
	rank0, rank1 := metrics.NewCounts(2), metrics.NewCounts(2)
	rank0.AddBatch([]int{0, 0, 1}, []int{0, 0, 1}, 0.6) // preds, gold, loss sum
	rank1.AddBatch([]int{1, 0, 1}, []int{1, 1, 0}, 2.4)

	// What an all-reduce (sum) does to the integers and the loss sum.
	ints := rank0.Int64s()
	for i, v := range rank1.Int64s() {
		ints[i] += v
	}
	all, err := metrics.FromInt64s(2, ints)
	if err != nil {
		panic(err)
	}
	all.SetLossSum(rank0.LossSum() + rank1.LossSum())

	s := all.Summary(labels)
	best, greater, _ := s.Metric("accuracy")
	fmt.Printf("accuracy %.3f (greater is better: %v)\n", best, greater)
	fmt.Print(s.Table())
	// Output:
	// accuracy 0.667 (greater is better: true)
	// n 6  loss 0.5000  accuracy 0.6667  macro-F1 0.6667
	//
	// class      precision     recall         f1    support
	// ham           0.6667     0.6667     0.6667          3
	// spam          0.6667     0.6667     0.6667          3
	// macro avg     0.6667     0.6667     0.6667          6
	//
	// confusion matrix (rows: true label, columns: predicted)
	//              ham   spam
	// ham            2      1
	// spam           1      2
}
