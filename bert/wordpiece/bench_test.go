package wordpiece

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

const benchEnglish = `The film's opening act is genuinely thrilling: a heist in Zürich, told in
long, unbroken takes, with a score that never overstays its welcome. Sadly, the
second half collapses under its own weight -- characters make inexplicable
decisions (why would anyone trust the 42-year-old "consultant"?), and the final
twist was telegraphed an hour earlier. Still, 3.5/5 for ambition; I'd watch it again.`

const benchMixed = `Café naïve résumé — “quotes” and emoji 🤗! 我爱北京天安门。 Привет, мир!
日本語のテキスト、カタカナ。 한국어 텍스트 Ångström ΟΔΟΣ straße https://example.org/a?b=1`

func benchmarkEncode(b *testing.B, text string) {
	tok, err := Load(filepath.Join(sugarmeVocabDir(b), "bert-base-uncased-vocab.txt"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	docs := strings.Split(text, "\n")
	b.SetBytes(int64(len(text) - len(docs) + 1))
	b.ReportAllocs()
	tokens := 0
	for b.Loop() {
		for _, d := range docs {
			ids, _, err := tok.Encode(d, "", 0, truncation.Mode{})
			if err != nil {
				b.Fatal(err)
			}
			tokens += len(ids) - 2
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeEnglish reports tokens/s on ASCII-heavy English (one review
// split into lines, encoded line by line).
func BenchmarkEncodeEnglish(b *testing.B) { benchmarkEncode(b, benchEnglish) }

// BenchmarkEncodeMixed reports tokens/s on accented, CJK and other scripts.
func BenchmarkEncodeMixed(b *testing.B) { benchmarkEncode(b, benchMixed) }
