package baseline

import (
	"math"
	"slices"
)

// NaiveBayes is a fitted multinomial naive Bayes text classifier. Make one
// with Fit. It does not change after Fit, so its methods may be called from
// several goroutines at once.
type NaiveBayes struct {
	k          int
	alpha      float64
	vocab      map[string]int // word -> feature id (its index in words)
	words      []string       // sorted
	classCount []int
	logPrior   []float64 // per class
	logProb    []float64 // feature-major: logProb[f*k+c] = log P(word f | class c)
}

// K returns the number of classes.
func (nb *NaiveBayes) K() int { return nb.k }

// Alpha returns the smoothing the model was fitted with.
func (nb *NaiveBayes) Alpha() float64 { return nb.alpha }

// Vocabulary returns the words the model knows, sorted by code point
// (CountVectorizer's get_feature_names_out()). The caller may modify it.
func (nb *NaiveBayes) Vocabulary() []string { return slices.Clone(nb.words) }

// ClassCounts returns how many training texts each class had.
func (nb *NaiveBayes) ClassCounts() []int { return slices.Clone(nb.classCount) }

// ClassLogPrior returns log(n_c / n) per class, MultinomialNB's
// class_log_prior_: -Inf for a class without examples.
func (nb *NaiveBayes) ClassLogPrior() []float64 { return slices.Clone(nb.logPrior) }

// WordLogProb returns log P(word | class) for each class,
// log((count + alpha) / (total + alpha*V)), where count is how often the
// lower-cased word occurs in the class's training texts, total the class's
// word count and V the vocabulary size; nil if the word is not in the
// vocabulary.
func (nb *NaiveBayes) WordLogProb(word string) []float64 {
	f, ok := nb.vocab[word]
	if !ok {
		return nil
	}
	return slices.Clone(nb.logProb[f*nb.k : (f+1)*nb.k])
}

// Scores returns, for each text, the joint log-likelihood of each class,
// log P(class) + sum over the text's known words of log P(word | class)
// (MultinomialNB's predict_joint_log_proba). Words not in the vocabulary
// are ignored, so a text without known words scores the class priors.
func (nb *NaiveBayes) Scores(texts []string) [][]float64 {
	var sc textScorer
	out := make([][]float64, len(texts))
	flat := make([]float64, len(texts)*nb.k)
	for i, text := range texts {
		out[i] = flat[i*nb.k : (i+1)*nb.k : (i+1)*nb.k]
		sc.score(nb, text, out[i])
	}
	return out
}

// LogProba returns, for each text, the log of the posterior probability of
// each class: Scores normalised so that the probabilities sum to one
// (MultinomialNB's predict_log_proba).
func (nb *NaiveBayes) LogProba(texts []string) [][]float64 {
	out := nb.Scores(texts)
	for _, s := range out {
		norm := logSumExp(s)
		for c := range s {
			s[c] -= norm
		}
	}
	return out
}

// Predict returns the most likely class of each text: the one with the
// highest score, the lowest class id among equals (numpy's argmax).
func (nb *NaiveBayes) Predict(texts []string) []int {
	var sc textScorer
	pred := make([]int, len(texts))
	s := make([]float64, nb.k)
	for i, text := range texts {
		sc.score(nb, text, s)
		pred[i] = argmax(s)
	}
	return pred
}

// A textScorer holds the buffers for scoring texts one after another.
type textScorer struct {
	scan scanner
	ids  []int
}

// score writes the joint log-likelihood of text for each class into s. It
// adds count*log P(word | class) per distinct word in vocabulary order, and
// the prior last, in scikit-learn's order of operations.
func (sc *textScorer) score(nb *NaiveBayes, text string, s []float64) {
	sc.ids = sc.ids[:0]
	sc.scan.each(text, func(w []byte) {
		if f, ok := nb.vocab[string(w)]; ok {
			sc.ids = append(sc.ids, f)
		}
	})
	slices.Sort(sc.ids)
	clear(s)
	for i := 0; i < len(sc.ids); {
		f, n := sc.ids[i], 1
		for i+n < len(sc.ids) && sc.ids[i+n] == f {
			n++
		}
		i += n
		for c, lp := range nb.logProb[f*nb.k : (f+1)*nb.k] {
			s[c] += float64(n) * lp
		}
	}
	for c, p := range nb.logPrior {
		s[c] += p
	}
}

// argmax returns the index of the largest value, the first among equals.
// Scores are never NaN (Note [Classes without examples]).
func argmax(s []float64) int {
	best := 0
	for c, v := range s {
		if v > s[best] {
			best = c
		}
	}
	return best
}

// logSumExp returns log(sum(exp(s))) without overflow, shifting by the
// maximum as scipy.special.logsumexp does.
func logSumExp(s []float64) float64 {
	m := s[argmax(s)]
	if math.IsInf(m, 0) {
		return m
	}
	var sum float64
	for _, v := range s {
		sum += math.Exp(v - m)
	}
	return m + math.Log(sum)
}
