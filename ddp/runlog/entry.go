package runlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// Kind says what an entry records.
type Kind string

// The kinds of entries.
const (
	Train Kind = "train" // a training step (rate-limited by --log-every)
	Eval  Kind = "eval"  // a validation evaluation
	Test  Kind = "test"  // the final test evaluation
	Event Kind = "event" // anything else: a checkpoint, early stopping, a resume
)

// Field names the trainer writes and the report reads.
const (
	FieldLoss          = "loss"
	FieldLR            = "lr"
	FieldGradNorm      = "grad_norm"
	FieldSamplesPerSec = "samples_per_sec" // across all ranks
	FieldTokensPerSec  = "tokens_per_sec"  // across all ranks
	FieldAccuracy      = "accuracy"
	FieldMacroF1       = "macro_f1"
	FieldMsg           = "msg" // an Event's description
)

// Entry is one line of the log.
type Entry struct {
	Time   time.Time
	Kind   Kind
	Step   int64
	Epoch  float64        // fractional, as the HF Trainer logs it
	Fields map[string]any // JSON-encodable values; see Note [Non-finite values]
}

// Note [Non-finite values]: JSON has no NaN or infinity, yet a diverging run
// logs exactly those, and that is when the log matters most. A float64
// field that is NaN, +Inf or -Inf is written as the string "NaN", "+Inf"
// or "-Inf", and Entry.Float reads these strings back as numbers.

// Float returns the field name as a float64, and whether it is there and
// numeric (a JSON number, or a string of Note [Non-finite values]).
func (e Entry) Float(name string) (float64, bool) {
	switch v := e.Fields[name].(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		switch v {
		case "NaN":
			return math.NaN(), true
		case "+Inf":
			return math.Inf(1), true
		case "-Inf":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

var reserved = map[string]bool{"time": true, "kind": true, "step": true, "epoch": true}

// MarshalJSON writes e as one flat object: time, kind, step and epoch
// first, then the fields in name order.
func (e Entry) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	t, _ := e.Time.UTC().MarshalJSON()
	fmt.Fprintf(&b, `{"time":%s,"kind":%q,"step":%d,"epoch":%s`, t, e.Kind, e.Step, number(e.Epoch))
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		if reserved[k] {
			return nil, fmt.Errorf("runlog: field %q is reserved", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, err := value(e.Fields[k])
		if err != nil {
			return nil, fmt.Errorf("runlog: field %q: %w", k, err)
		}
		kb, _ := json.Marshal(k)
		fmt.Fprintf(&b, ",%s:%s", kb, v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func value(v any) ([]byte, error) {
	switch f := v.(type) {
	case float64:
		return []byte(number(f)), nil
	case float32:
		return []byte(number(float64(f))), nil
	}
	return json.Marshal(v)
}

// number formats f as JSON; see Note [Non-finite values].
func number(f float64) string {
	switch {
	case math.IsNaN(f):
		return `"NaN"`
	case math.IsInf(f, 1):
		return `"+Inf"`
	case math.IsInf(f, -1):
		return `"-Inf"`
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// UnmarshalJSON reads a flat object written by MarshalJSON.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = Entry{Fields: m}
	if s, ok := m["time"].(string); ok {
		if err := e.Time.UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("time: %w", err)
		}
	}
	k, ok := m["kind"].(string)
	if !ok {
		return fmt.Errorf("no kind")
	}
	e.Kind = Kind(k)
	step, _ := e.Float("step")
	e.Step = int64(step)
	e.Epoch, _ = e.Float("epoch")
	for name := range reserved {
		delete(m, name)
	}
	return nil
}
