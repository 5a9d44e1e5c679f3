// Package bert is BERT and DistilBERT sequence classification and masked
// language modelling on libtorch (through github.com/sugarme/gotch),
// numerically the same as HuggingFace's BertForSequenceClassification and
// DistilBertForSequenceClassification (and their ForMaskedLM siblings):
// logits, loss and gradients match PyTorch within 1e-4 (TestParity, with
// fixtures from testdata/gen_fixtures.py).
//
// Parameters carry HF's state-dict names, so an HF model folder loads with
// a checked copy and the model saves back to one:
//
//	err := torchrt.Run(torchrt.Config{}, func(*torchrt.Thread) error {
//		m, report, err := bert.LoadPretrained("./bert-base-uncased", gotch.CPU,
//			func(c *bert.Config) { c.Labels = []string{"ham", "spam"} }, bert.LoadOptions{})
//		if err != nil {
//			return err // names every missing, unexpected or misshapen tensor
//		}
//		defer m.Drop()
//		_ = report.Initialised // the classifier head a base checkpoint lacks
//		logits, err := m.Forward(bert.Input{IDs: ids, TypeIDs: types, Mask: mask, B: 2, T: 16}, false)
//		...
//		return m.Save("./out", false) // config.json + model.safetensors
//	})
//
// With Config.Task TaskMaskedLM the same encoder carries HF's masked-LM
// head instead (BertForMaskedLM, DistilBertForMaskedLM; Note [Masked-LM
// head]): MaskedLM computes the vocabulary logits at the masked positions
// only, MaskedLMLoss their cross-entropy. Its folder has HF's names, the
// output projection tied to the word embeddings and left out of
// model.safetensors as HF leaves it; loaded as a classifier, its head is
// ignored and the classifier initialised, both listed in the LoadReport
// (TestMaskedLMParity, TestMaskedLMSaveLoad).
//
// What differs between BERT and DistilBERT (config.json keys, parameter
// names, embeddings, layers, heads) lives in one file per family,
// bert_family.go and distilbert_family.go, registered by model_type
// (ModelTypes); the rest of the package is shared (Note [Model families]).
//
// Models from scratch come from a preset (micro, tiny, mini, small, base)
// and HF's initialisation. Pooling is HF's [CLS] (through the pooler for
// BERT) or the mean of the non-padding tokens; FreezeBase and SetTrainable
// freeze parameters; package internal/torchrt's Autocast runs the forward
// pass in bf16 with fp32 weights. All calls belong on the compute thread
// (package internal/torchrt), and every intermediate tensor of a forward
// pass is freed when it returns (Note [Tensor lifetimes]).
package bert
