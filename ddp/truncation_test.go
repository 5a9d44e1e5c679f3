package ddp

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

// writeLongData writes a CSV like writeData's whose texts start with 30
// words that say nothing about the label, so that with max length 16 only
// the tail of a text tells its label.
func writeLongData(t *testing.T, dir, name string, n, seed int) string {
	t.Helper()
	return writeRows(t, dir, name, n, seed, func(i int) []string {
		var words []string
		for j := range 30 {
			words = append(words, testWords[(i+j*5)%len(testWords)])
		}
		return words
	})
}

// A run with --truncation tail records it in the tokenizer_config.json of
// every checkpoint and of the model folder, and predict and eval on that
// folder truncate at the tail unless told otherwise.
func TestTrain_RecordsTruncation(t *testing.T) {
	model, data, out := tinyModelDir(t, 0), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	cfg.Train = writeLongData(t, data, "train.csv", 48, 1)
	cfg.Val = writeLongData(t, data, "val.csv", 15, 2)
	cfg.Test = writeLongData(t, data, "test.csv", 15, 3)
	cfg.MaxLength, cfg.Truncation = 16, "tail"
	res, err := Train(t.Context(), cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	cks, err := listCheckpoints(out)
	if err != nil || len(cks) == 0 {
		t.Fatalf("checkpoints %v, %v", cks, err)
	}
	for _, dir := range append(cks, out) {
		var tc map[string]any
		b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
		if err == nil {
			err = json.Unmarshal(b, &tc)
		}
		if err != nil || tc["truncation_side"] != "left" || tc["ddprun_truncation"] != nil {
			t.Errorf("%s: tokenizer_config.json %s, %v; want truncation_side left", dir, b, err)
		}
	}

	ic := InferConfig{Model: out, Data: cfg.Test, TextColumn: "text", LabelColumn: "label", MaxLength: 16, BatchSize: 4, Threads: 1, Precision: "fp32"}
	predict := func(trunc string) string {
		ic := ic
		ic.Truncation = trunc
		var buf bytes.Buffer
		if _, err := Predict(t.Context(), ic, &buf, nil); err != nil {
			t.Fatalf("predict --truncation %q: %v", trunc, err)
		}
		return buf.String()
	}
	byDefault, tail, head := predict(""), predict("tail"), predict("head")
	if byDefault != tail || byDefault == head {
		t.Errorf("predict: by default the same as tail %t (want true), as head %t (want false)", byDefault == tail, byDefault == head)
	}
	// Training tested on tail-truncated rows: eval by default agrees.
	sum, err := Evaluate(t.Context(), ic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.N != res.Test.N || math.Abs(sum.Loss-res.Test.Loss) > 1e-5 {
		t.Errorf("eval loss %v on %d rows, training's test %v on %d", sum.Loss, sum.N, res.Test.Loss, res.Test.N)
	}
}

func TestConfig_Truncation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"--truncation", "tail"}, ""},
		{[]string{"--truncation", "head+tail"}, ""},
		{[]string{"--truncation", "head+tail:126"}, ""},
		{[]string{"--truncation", "head+tail:127"}, "--truncation"},
		{[]string{"--truncation", "head+tail:10", "--max-length", "8"}, "--truncation"},
		{[]string{"--truncation", "middle"}, "--truncation"},
	} {
		c := DefaultConfig()
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		c.Register(fs)
		if err := fs.Parse(append([]string{"--train", "t.csv", "--preset", "micro", "--eval-strategy", "no"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: Validate() = %v, want error %q", tc.args, err, tc.err)
		}
	}
	if c := DefaultConfig(); c.Truncation != "head" {
		t.Errorf("default --truncation %q", c.Truncation)
	}
}

// The resume hash counts the truncation, except head, so that checkpoints
// from before --truncation existed still resume.
func TestConfig_HashTruncation(t *testing.T) {
	hash := func(trunc string) string {
		c := DefaultConfig()
		c.Train, c.Model, c.Truncation = "train.csv", "model", trunc
		return c.hash()
	}
	const before = "bac96c30f1450fc9" // this Config's hash before --truncation existed
	if h := hash("head"); h != before || hash("") != before || hash("head+tail:126") != before {
		t.Errorf("head hashes to %s, %s, %s; want %s as before --truncation", h, hash(""), hash("head+tail:126"), before)
	}
	if hash("tail") == before || hash("head+tail") == hash("tail") || hash("head+tail") != hash("head+tail:31") {
		t.Error("the hash ignores the truncation")
	}
}

func TestInferConfig_Truncation(t *testing.T) {
	recorded := truncation.Mode{Side: truncation.Tail}
	for _, tc := range []struct {
		flag string
		want string
		err  bool
	}{
		{"", "tail", false},
		{"head", "head", false},
		{"head+tail", "head+tail:31", false},
		{"head+tail:200", "", true},
		{"x", "", true},
	} {
		c := InferConfig{Model: "m", Data: "d", MaxLength: 128, BatchSize: 1, Precision: "fp32", Truncation: tc.flag}
		m, err := c.truncation(recorded)
		if (err != nil) != tc.err || err == nil && m.String() != tc.want {
			t.Errorf("--truncation %q: %v, %v; want %s", tc.flag, m, err, tc.want)
		}
		if err := c.validate(); (err != nil) != tc.err {
			t.Errorf("--truncation %q: validate() = %v", tc.flag, err)
		}
	}
}
