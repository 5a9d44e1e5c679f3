package ddp

import (
	"fmt"
	"testing"
)

func TestPlanBuckets(t *testing.T) {
	ps := []ParamInfo{{Name: "b", Numel: 10}, {Name: "a", Numel: 300}, {Name: "d", Numel: 5}, {Name: "c", Numel: 1000}, {Name: "e", Numel: 7}}
	bs := PlanBuckets(ps, 4*12, 4*400)
	got := ""
	for _, b := range bs {
		got += "["
		for i, p := range b.Params {
			got += fmt.Sprintf("%s@%d ", p.Name, b.Offsets[i])
		}
		got += fmt.Sprintf("=%d]", b.Numel)
	}
	// Reverse name order; first bucket <= 12 elements; the 1000-element
	// parameter alone; the cap of 400 elsewhere.
	want := "[e@0 d@7 =12][c@0 =1000][b@0 a@10 =310]"
	if got != want {
		t.Errorf("buckets %s, want %s", got, want)
	}
	if n := len(PlanBuckets(nil, 10, 10)); n != 0 {
		t.Errorf("%d buckets for no parameters", n)
	}
}

// BERT-base's gradient sizes, without libtorch (KungFu's fakemodel idea).
func BenchmarkPlanBucketsBertBase(b *testing.B) {
	var ps []ParamInfo
	ps = append(ps, ParamInfo{Name: "bert.embeddings.word_embeddings.weight", Numel: 30522 * 768})
	for l := range 12 {
		for _, n := range []string{"q", "k", "v", "o"} {
			ps = append(ps, ParamInfo{Name: fmt.Sprintf("bert.encoder.layer.%d.%s.weight", l, n), Numel: 768 * 768})
		}
		ps = append(ps, ParamInfo{Name: fmt.Sprintf("bert.encoder.layer.%d.i.weight", l), Numel: 768 * 3072})
		ps = append(ps, ParamInfo{Name: fmt.Sprintf("bert.encoder.layer.%d.o2.weight", l), Numel: 768 * 3072})
	}
	for b.Loop() {
		PlanBuckets(ps, 1<<20, 25<<20)
	}
}
