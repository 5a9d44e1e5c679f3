package baseline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// reference is testdata/reference.json, written by gen_reference.py from
// scikit-learn.
type reference struct {
	Versions map[string]string `json:"versions"`
	Corpora  map[string]struct {
		Texts     []string   `json:"texts"`
		Labels    []int      `json:"labels"`
		Words     [][]string `json:"words"`
		TestTexts []string   `json:"test_texts"`
		TestWords [][]string `json:"test_words"`
	} `json:"corpora"`
	Cases []struct {
		Name               string        `json:"name"`
		Why                string        `json:"why"`
		Corpus             string        `json:"corpus"`
		K                  int           `json:"k"`
		Alpha              float64       `json:"alpha"`
		Vocabulary         []string      `json:"vocabulary"`
		ClassLogPrior      []jsonFloat   `json:"class_log_prior"`
		JointLogLikelihood [][]jsonFloat `json:"joint_log_likelihood"`
		LogProba           [][]jsonFloat `json:"log_proba"`
		Predictions        []int         `json:"predictions"`
	} `json:"cases"`
}

// jsonFloat is a float64 that may be written as "-Infinity" or "Infinity".
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"-Infinity"`:
		*f = jsonFloat(math.Inf(-1))
	case `"Infinity"`:
		*f = jsonFloat(math.Inf(1))
	default:
		return json.Unmarshal(b, (*float64)(f))
	}
	return nil
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("testdata/reference.json: %v", err)
	}
	return ref
}

// Every text's words equal CountVectorizer().build_analyzer()'s.
func TestReference_Words(t *testing.T) {
	ref := loadReference(t)
	for name, c := range ref.Corpora {
		texts := append(append([]string(nil), c.Texts...), c.TestTexts...)
		want := append(append([][]string(nil), c.Words...), c.TestWords...)
		for i, text := range texts {
			if diff := cmp.Diff(want[i], Words(text), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("corpus %s: Words(%q) (-sklearn +got):\n%s", name, text, diff)
			}
		}
	}
}

// Fit and the scores match CountVectorizer + MultinomialNB.
func TestReference_Fit(t *testing.T) {
	ref := loadReference(t)
	t.Logf("reference from %v", ref.Versions)
	for _, tc := range ref.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			corpus := ref.Corpora[tc.Corpus]
			nb, err := Fit(corpus.Texts, corpus.Labels, tc.K, Options{Alpha: tc.Alpha})
			if err != nil {
				t.Fatalf("%s: %v", tc.Why, err)
			}
			if diff := cmp.Diff(tc.Vocabulary, nb.Vocabulary()); diff != "" {
				t.Errorf("%s: vocabulary (-sklearn +got):\n%s", tc.Why, diff)
			}
			checkClose(t, "class_log_prior", floats(tc.ClassLogPrior), nb.ClassLogPrior(), relClose)
			scores := nb.Scores(corpus.TestTexts)
			logProba := nb.LogProba(corpus.TestTexts)
			for i, text := range corpus.TestTexts {
				what := fmt.Sprintf("text %d %.30q", i, text)
				checkClose(t, what+": joint log-likelihood", floats(tc.JointLogLikelihood[i]), scores[i], relClose)
				checkClose(t, what+": log proba", floats(tc.LogProba[i]), logProba[i], mixedClose)
			}
			if diff := cmp.Diff(tc.Predictions, nb.Predict(corpus.TestTexts)); diff != "" {
				t.Errorf("%s: predictions (-sklearn +got):\n%s", tc.Why, diff)
			}
		})
	}
}

func floats(fs []jsonFloat) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = float64(f)
	}
	return out
}

const tolerance = 1e-9

// relClose: within tolerance relative to want; infinities must be equal.
func relClose(want, got float64) bool {
	return want == got || math.Abs(got-want) <= tolerance*math.Abs(want)
}

// mixedClose: within tolerance relative to want, or absolute near zero,
// where log probabilities of near-certain classes live.
func mixedClose(want, got float64) bool {
	return want == got || math.Abs(got-want) <= tolerance*max(1, math.Abs(want))
}

func checkClose(t *testing.T, what string, want, got []float64, close func(want, got float64) bool) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: got %d values, sklearn %d", what, len(got), len(want))
		return
	}
	for c := range want {
		if !close(want[c], got[c]) {
			t.Errorf("%s: class %d: got %v, sklearn %v", what, c, got[c], want[c])
		}
	}
}
