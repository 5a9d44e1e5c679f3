package ddp

import (
	"slices"
	"strings"
)

// ParamInfo is what bucket planning needs to know of a parameter.
type ParamInfo struct {
	Name  string
	Numel int
	Decay bool // gets weight decay (bert.Param.Decay)
}

// Bucket is a group of parameters whose gradients are reduced together as
// one contiguous buffer. Offsets are in elements.
type Bucket struct {
	Params  []ParamInfo
	Offsets []int
	Numel   int
}

// PlanBuckets packs parameters into buckets of at most capBytes (fp32
// gradients), the first at most firstBytes, so that the first all-reduce
// can start early. See Note [Bucket order].
//
// A parameter larger than the cap gets a bucket of its own.
func PlanBuckets(params []ParamInfo, firstBytes, capBytes int) []Bucket {
	ps := slices.Clone(params)
	slices.SortFunc(ps, func(a, b ParamInfo) int { return strings.Compare(a.Name, b.Name) })
	slices.Reverse(ps)
	var out []Bucket
	var cur Bucket
	limit := firstBytes
	for _, p := range ps {
		if cur.Numel > 0 && (cur.Numel+p.Numel)*4 > limit {
			out = append(out, cur)
			cur, limit = Bucket{}, capBytes
		}
		cur.Offsets = append(cur.Offsets, cur.Numel)
		cur.Params = append(cur.Params, p)
		cur.Numel += p.Numel
	}
	if cur.Numel > 0 || len(cur.Params) > 0 {
		out = append(out, cur)
	}
	return out
}

// Note [Bucket order]: gotch's VarStore iterates a Go map, so parameter
// order differs between processes; ddprun never relies on it and sorts by
// HF name, which is the same everywhere. Reversing the sorted list puts the
// classifier and the last encoder layers first, approximating the order in
// which backward produces gradients (as PyTorch DDP reverses registration
// order), so the small first bucket holds gradients that are ready first.
