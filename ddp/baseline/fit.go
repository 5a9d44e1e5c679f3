package baseline

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

var (
	// ErrNoTexts is returned by Fit when there is nothing to learn from.
	ErrNoTexts = errors.New("baseline: no training texts")
	// ErrLabel is returned by Fit for a label outside [0, k), a label
	// count that differs from the text count, or k < 1.
	ErrLabel = errors.New("baseline: bad labels")
	// ErrNoWords is returned by Fit when no training text has a word of
	// two or more word characters (CountVectorizer's "empty vocabulary").
	ErrNoWords = errors.New("baseline: no words in the training texts")
	// ErrAlpha is returned by Fit for a negative, infinite or NaN
	// Options.Alpha.
	ErrAlpha = errors.New("baseline: bad smoothing alpha")
)

// DefaultAlpha is scikit-learn MultinomialNB's default smoothing (Laplace).
const DefaultAlpha = 1.0

// Options tunes Fit. The zero value gives scikit-learn's defaults.
type Options struct {
	// Alpha is the pseudo-count added to every word's count in every
	// class (Lidstone smoothing; 1 is Laplace). 0 means DefaultAlpha.
	Alpha float64
}

func (o Options) alpha() (float64, error) {
	switch a := o.Alpha; {
	case a == 0:
		return DefaultAlpha, nil
	case a < 0 || math.IsInf(a, 0) || math.IsNaN(a):
		return 0, fmt.Errorf("%w: %v (want a positive number)", ErrAlpha, a)
	default:
		return a, nil
	}
}

// Fit learns a multinomial naive Bayes classifier for k classes from texts
// and their labels (labels[i] in [0, k) is the class of texts[i]), as
// scikit-learn's CountVectorizer() followed by MultinomialNB(alpha) does.
// The vocabulary is every word of the texts (see Words). A class with no
// example is allowed and is never predicted (Note [Classes without
// examples]). Fit keeps no reference to texts or labels.
func Fit(texts []string, labels []int, k int, opts Options) (*NaiveBayes, error) {
	alpha, err := opts.alpha()
	if err != nil {
		return nil, err
	}
	if err := checkLabels(len(texts), labels, k); err != nil {
		return nil, err
	}
	c := newCounter(k)
	for i, text := range texts {
		c.add(text, labels[i])
	}
	if len(c.words) == 0 {
		return nil, fmt.Errorf("%w (%d texts)", ErrNoWords, len(texts))
	}
	return c.model(alpha), nil
}

func checkLabels(n int, labels []int, k int) error {
	switch {
	case n == 0:
		return ErrNoTexts
	case k < 1:
		return fmt.Errorf("%w: %d classes (want at least 1)", ErrLabel, k)
	case len(labels) != n:
		return fmt.Errorf("%w: %d labels for %d texts", ErrLabel, len(labels), n)
	}
	for i, l := range labels {
		if l < 0 || l >= k {
			return fmt.Errorf("%w: text %d has label %d, want 0 <= label < %d", ErrLabel, i, l, k)
		}
	}
	return nil
}

// A counter accumulates word counts per class. Words get ids in the order
// they are first seen; model renumbers them in sorted order.
type counter struct {
	k          int
	ids        map[string]int // word -> id in order of first appearance
	words      []string       // id -> word
	counts     []float64      // id*k + class -> occurrences
	classCount []int
	scan       scanner
}

func newCounter(k int) *counter {
	return &counter{k: k, ids: make(map[string]int), classCount: make([]int, k)}
}

func (c *counter) add(text string, label int) {
	c.classCount[label]++
	c.scan.each(text, func(w []byte) {
		id, ok := c.ids[string(w)]
		if !ok {
			id = len(c.words)
			c.words = append(c.words, string(w))
			c.ids[c.words[id]] = id
			c.counts = append(c.counts, make([]float64, c.k)...)
		}
		c.counts[id*c.k+label]++
	})
}

// model turns the counts into a NaiveBayes with smoothing alpha. It takes
// over the counter's map.
func (c *counter) model(alpha float64) *NaiveBayes {
	order := make([]int, len(c.words)) // sorted position -> first-seen id
	for i := range order {
		order[i] = i
	}
	// Byte order of UTF-8 is code point order, Python's sorted() order.
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(c.words[a], c.words[b]) })

	v, k := len(order), c.k
	nb := &NaiveBayes{k: k, alpha: alpha, vocab: c.ids, words: make([]string, v),
		classCount: slices.Clone(c.classCount), logProb: make([]float64, v*k)}
	totals := make([]float64, k)
	for f, id := range order {
		nb.words[f] = c.words[id]
		nb.vocab[c.words[id]] = f
		copy(nb.logProb[f*k:(f+1)*k], c.counts[id*k:(id+1)*k])
		for class := range k {
			totals[class] += c.counts[id*k+class]
		}
	}
	nb.logPrior = logPriors(c.classCount)
	for class, total := range totals {
		denom := math.Log(total + alpha*float64(v))
		for f := range v {
			nb.logProb[f*k+class] = math.Log(nb.logProb[f*k+class]+alpha) - denom
		}
	}
	return nb
}

// logPriors returns log(count_c / n) for each class, computed as
// scikit-learn does, log(count_c) - log(n): -Inf for an empty class.
func logPriors(classCount []int) []float64 {
	n := 0
	for _, c := range classCount {
		n += c
	}
	p := make([]float64, len(classCount))
	for i, c := range classCount {
		p[i] = math.Log(float64(c)) - math.Log(float64(n))
	}
	return p
}
