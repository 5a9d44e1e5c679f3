package shard_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/shard"
	"github.com/google/go-cmp/cmp"
)

func TestBuildLabelMap(t *testing.T) {
	for _, c := range []struct {
		name          string
		values, order []string
		want          []string
	}{
		{"sorted strings", []string{"spam", "ham", "hard_ham", "ham"}, nil, []string{"ham", "hard_ham", "spam"}},
		{"given order", []string{"spam", "ham"}, []string{"spam", "ham", "unused"}, []string{"spam", "ham", "unused"}},
		{"integers are ids", []string{"2", "0", "1", "3"}, nil, []string{"0", "1", "2", "3"}},
		{"integers with a gap", []string{"2", "0"}, nil, []string{"0", "1", "2"}},
		{"not canonical integers", []string{"01", "2"}, nil, []string{"01", "2"}},
		{"negative integers are names", []string{"-1", "1"}, nil, []string{"-1", "1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := shard.BuildLabelMap(c.values, c.order)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, m.Names()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := shard.BuildLabelMap([]string{"a", "b"}, []string{"a"}); !errors.Is(err, shard.ErrUnknownLabel) {
		t.Fatalf("label outside the given order: %v", err)
	}
	if _, err := shard.NewLabelMap([]string{"a", "a"}); err == nil {
		t.Fatal("duplicate names accepted")
	}
}

func TestLabelMap_HFRoundTrip(t *testing.T) {
	m, _ := shard.NewLabelMap([]string{"ham", "hard_ham", "spam"})
	if diff := cmp.Diff(map[string]string{"0": "ham", "1": "hard_ham", "2": "spam"}, m.ID2Label()); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff(map[string]int{"ham": 0, "hard_ham": 1, "spam": 2}, m.Label2ID()); diff != "" {
		t.Fatal(diff)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back shard.LabelMap
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.Names(), back.Names()); diff != "" {
		t.Fatal(diff)
	}
	if _, err := shard.LabelMapFromHF(map[string]string{"0": "a", "2": "b"}); err == nil {
		t.Fatal("id2label with a gap accepted")
	}
	if err := json.Unmarshal([]byte(`{"id2label":{"0":"a","1":"b"},"label2id":{"a":1,"b":0}}`), &back); err == nil {
		t.Fatal("disagreeing label2id accepted")
	}
}

func TestDataset_ApplyLabels_UnknownNamesFileLine(t *testing.T) {
	dir := t.TempDir()
	val := filepath.Join(dir, "val.csv")
	os.WriteFile(val, []byte("text,label\na,ham\nb,ham\nc,eggs\nd,eggs\n"), 0o644)
	ds, err := shard.Load(t.Context(), val, testConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := shard.NewLabelMap([]string{"ham", "spam"})
	err = ds.ApplyLabels(m)
	if !errors.Is(err, shard.ErrUnknownLabel) || !strings.Contains(err.Error(), "val.csv:4") {
		t.Fatalf("ApplyLabels: %v, want ErrUnknownLabel naming val.csv:4", err)
	}
}
