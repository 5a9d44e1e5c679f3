package baseline

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// syntheticCorpus returns n texts of about size bytes each, labelled with k
// classes: mixed-case words drawn from a Zipf law over a 50,000-word
// vocabulary, a class-specific share of the words, digits and punctuation.
func syntheticCorpus(n, size, k int, seed uint64) ([]string, []int) {
	rng := rand.New(rand.NewPCG(seed, 0))
	vocab := make([]string, 50_000)
	for i := range vocab {
		b := make([]byte, 2+rng.IntN(9))
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = string(b)
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))
	texts, labels := make([]string, n), make([]int, n)
	var sb strings.Builder
	for i := range texts {
		labels[i] = rng.IntN(k)
		sb.Reset()
		for sb.Len() < size {
			w := vocab[zipf.Uint64()]
			switch r := rng.IntN(20); {
			case r == 0:
				w = strings.ToUpper(w)
			case r == 1:
				w = fmt.Sprint(rng.IntN(10_000))
			case r < 5:
				w = vocab[(labels[i]*997+rng.IntN(50))%len(vocab)] // class words
			}
			sb.WriteString(w)
			sb.WriteString([]string{" ", " ", " ", ", ", ". ", "\n", "! ", " - "}[rng.IntN(8)])
		}
		texts[i] = sb.String()
	}
	return texts, labels
}

// The SpamAssassin example's size: 6,046 messages of about 2 KB.
func BenchmarkFit(b *testing.B) {
	texts, labels := syntheticCorpus(6_046, 2_048, 2, 1)
	var bytes int64
	for _, t := range texts {
		bytes += int64(len(t))
	}
	b.SetBytes(bytes)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Fit(texts, labels, 2, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(texts))*float64(b.N)/b.Elapsed().Seconds(), "texts/s")
}

func BenchmarkPredict(b *testing.B) {
	texts, labels := syntheticCorpus(6_046, 2_048, 2, 1)
	nb, err := Fit(texts, labels, 2, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		nb.Predict(texts)
	}
	b.ReportMetric(float64(len(texts))*float64(b.N)/b.Elapsed().Seconds(), "texts/s")
}
