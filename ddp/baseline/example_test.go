package baseline_test

import (
	"fmt"

	"github.com/ddprun/ddprun/ddp/baseline"
)

func Example() {
	train := []string{
		"Lunch tomorrow? Let me know.",
		"The report is attached, see you at the meeting.",
		"WIN a FREE prize now!!! Click here",
		"Cheap meds, free shipping, click now",
	}
	labels := []int{0, 0, 1, 1} // 0 ham, 1 spam
	nb, err := baseline.Fit(train, labels, 2, baseline.Options{})
	if err != nil {
		panic(err)
	}
	test := []string{"Free prize, click!", "See you at lunch", "no known words"}
	fmt.Println(baseline.Words(test[0]))
	fmt.Println(nb.Predict(test))
	for i, lp := range nb.LogProba(test) {
		fmt.Printf("%-20q log P(ham) %6.3f  log P(spam) %6.3f\n", test[i], lp[0], lp[1])
	}
	// The same numbers as scikit-learn's CountVectorizer + MultinomialNB. The
	// last text has no known word: equal scores, and the lowest class wins.
	//
	// Output:
	// [free prize click]
	// [1 0 0]
	// "Free prize, click!" log P(ham) -3.108  log P(spam) -0.046
	// "See you at lunch"   log P(ham) -0.076  log P(spam) -2.620
	// "no known words"     log P(ham) -0.693  log P(spam) -0.693
}
