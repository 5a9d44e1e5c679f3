package wordpiece

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ddprun/ddprun/shard/truncation"
)

// Save writes vocab.txt, tokenizer_config.json and special_tokens_map.json to
// dir (created if missing), a folder that HF's BertTokenizer (and
// AutoTokenizer) can load and that Load reads back to an equal Tokenizer.
//
// tokenizer_config.json records Truncation as HF's truncation_side: "right"
// for head, "left" for tail. HF has no head+tail: Save writes "right" and,
// for ddprun, "ddprun_truncation": "head+tail:H", which HF ignores, so an
// HF tokenizer loaded from the folder truncates such a model's input at the
// end (head) only.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("wordpiece: save: %w", err)
	}
	var vocab strings.Builder
	for _, tok := range t.tokens {
		vocab.WriteString(tok)
		vocab.WriteByte('\n')
	}
	specials := map[string]string{
		"cls_token": CLSToken, "sep_token": SEPToken, "pad_token": PADToken, "unk_token": UNKToken,
	}
	if t.mask >= 0 {
		specials["mask_token"] = MASKToken
	}
	config := map[string]any{
		"tokenizer_class":              "BertTokenizer",
		"do_lower_case":                t.lower,
		"strip_accents":                t.strip,
		"tokenize_chinese_chars":       t.chinese,
		"do_basic_tokenize":            true,
		"model_max_length":             t.modelMaxLength,
		"clean_up_tokenization_spaces": true,
	}
	for k, v := range truncationConfig(t.trunc) {
		config[k] = v
	}
	if t.strip == t.lower {
		config["strip_accents"] = nil // HF's default: follow do_lower_case
	}
	for k, v := range specials {
		config[k] = v
	}
	files := []struct {
		name string
		data any
	}{{"vocab.txt", vocab.String()}, {"tokenizer_config.json", config}, {"special_tokens_map.json", specials}}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, v any) error {
	var data []byte
	if s, ok := v.(string); ok {
		data = []byte(s)
	} else {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("wordpiece: save %s: %w", path, err)
		}
		data = append(b, '\n')
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("wordpiece: save: %w", err)
	}
	return nil
}

// truncationConfig returns the tokenizer_config.json keys that record m.
func truncationConfig(m truncation.Mode) map[string]any {
	switch m.Side {
	case truncation.Tail:
		return map[string]any{"truncation_side": "left"}
	case truncation.HeadTail:
		return map[string]any{"truncation_side": "right", "ddprun_truncation": m.String()}
	}
	return map[string]any{"truncation_side": "right"}
}
