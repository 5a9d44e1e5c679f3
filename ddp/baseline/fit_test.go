package baseline

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFit_Errors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		texts  []string
		labels []int
		k      int
		alpha  float64
		want   error
	}{
		{"no texts", nil, nil, 2, 0, ErrNoTexts},
		{"no classes", []string{"aa"}, []int{0}, 0, 0, ErrLabel},
		{"fewer labels", []string{"aa", "bb"}, []int{0}, 2, 0, ErrLabel},
		{"negative label", []string{"aa", "bb"}, []int{0, -1}, 2, 0, ErrLabel},
		{"label k", []string{"aa", "bb"}, []int{0, 2}, 2, 0, ErrLabel},
		{"no words", []string{"a b c", "!!", ""}, []int{0, 1, 1}, 2, 0, ErrNoWords},
		{"negative alpha", []string{"aa"}, []int{0}, 1, -1, ErrAlpha},
		{"NaN alpha", []string{"aa"}, []int{0}, 1, math.NaN(), ErrAlpha},
		{"infinite alpha", []string{"aa"}, []int{0}, 1, math.Inf(1), ErrAlpha},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nb, err := Fit(tc.texts, tc.labels, tc.k, Options{Alpha: tc.alpha})
			if !errors.Is(err, tc.want) || nb != nil {
				t.Fatalf("Fit = %v, %v; want nil, %v", nb, err, tc.want)
			}
			t.Log(err)
		})
	}
}

// The formulas of doc.go, by hand on a tiny corpus.
func TestFit_Formulas(t *testing.T) {
	texts := []string{"aa aa bb", "bb cc", "cc"}
	nb, err := Fit(texts, []int{0, 1, 1}, 2, Options{Alpha: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// V = 3. Class 0: aa 2, bb 1, total 3. Class 1: bb 1, cc 2, total 3.
	log := math.Log
	want := map[string][]float64{
		"aa": {log(2.5 / 4.5), log(0.5 / 4.5)},
		"bb": {log(1.5 / 4.5), log(1.5 / 4.5)},
		"cc": {log(0.5 / 4.5), log(2.5 / 4.5)},
		"dd": nil,
	}
	for w, lp := range want {
		checkClose(t, "WordLogProb("+w+")", lp, nb.WordLogProb(w), relClose)
	}
	prior := []float64{log(1.0 / 3), log(2.0 / 3)}
	checkClose(t, "ClassLogPrior", prior, nb.ClassLogPrior(), relClose)
	// "AA dd aa": aa twice (case folded), dd unknown.
	score := []float64{prior[0] + 2*log(2.5/4.5), prior[1] + 2*log(0.5/4.5)}
	checkClose(t, "Scores", score, nb.Scores([]string{"AA dd aa"})[0], relClose)
	if got := nb.Predict([]string{"AA dd aa", "cc", ""}); !slices.Equal(got, []int{0, 1, 1}) {
		t.Errorf("Predict = %v, want [0 1 1]", got)
	}
	if !slices.Equal(nb.ClassCounts(), []int{1, 2}) || nb.K() != 2 || nb.Alpha() != 0.5 {
		t.Errorf("ClassCounts %v K %d Alpha %v", nb.ClassCounts(), nb.K(), nb.Alpha())
	}
}

// The order of the training texts changes nothing, bit for bit.
func TestFit_OrderIndependent(t *testing.T) {
	texts, labels := syntheticCorpus(200, 300, 3, 1)
	nb, err := Fit(texts, labels, 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	perm := rand.New(rand.NewPCG(2, 0)).Perm(len(texts))
	texts2, labels2 := make([]string, len(texts)), make([]int, len(texts))
	for i, p := range perm {
		texts2[i], labels2[i] = texts[p], labels[p]
	}
	nb2, err := Fit(texts2, labels2, 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(nb.Vocabulary(), nb2.Vocabulary()); diff != "" {
		t.Errorf("vocabulary (-in order +shuffled):\n%s", diff)
	}
	if diff := cmp.Diff(nb.Scores(texts[:50]), nb2.Scores(texts[:50])); diff != "" {
		t.Errorf("scores (-in order +shuffled):\n%s", diff)
	}
}

// A class without examples is never predicted and never yields NaN; equal
// scores go to the lowest class id.
func TestPredict_EmptyClassAndTies(t *testing.T) {
	texts := []string{"spam eggs", "spam eggs", "ham"}
	nb, err := Fit(texts, []int{1, 2, 3}, 4, Options{})
	if err != nil {
		t.Fatal(err)
	}
	test := []string{"spam", "eggs spam", "", "unknown words", "ham ham"}
	if got, want := nb.Predict(test), []int{1, 1, 1, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("Predict = %v, want %v", got, want)
	}
	for i, lp := range nb.LogProba(test) {
		if !math.IsInf(lp[0], -1) || slices.ContainsFunc(lp, math.IsNaN) {
			t.Errorf("LogProba(%q) = %v, want -Inf for class 0 and no NaN", test[i], lp)
		}
		p := math.Exp(lp[1]) + math.Exp(lp[2]) + math.Exp(lp[3])
		if math.Abs(p-1) > 1e-12 {
			t.Errorf("LogProba(%q) = %v: probabilities sum to %v", test[i], lp, p)
		}
	}
}
