// Package baseline fits the simplest honest text classifier, a
// multinomial naive Bayes over lower-cased word counts, so that a
// fine-tuned transformer can be shown beside it: a model that does not beat
// this baseline has learned nothing worth its cost.
//
// It reproduces scikit-learn's
//
//	make_pipeline(CountVectorizer(), MultinomialNB(alpha=1.0))
//
// in pure Go: the same words, vocabulary, priors, scores and predictions
// (checked against scikit-learn by the TestReference tests, to 1e-9
// relative). On a corpus the size of the SpamAssassin example, 6,046 texts
// of 2 KB, Fit takes about 0.1 s on one core (BenchmarkFit).
//
// Step by step, as `ddprun train` uses it:
//
//	// texts and labels of the train split; k classes; labels in [0, k)
//	nb, err := baseline.Fit(trainTexts, trainLabels, k, baseline.Options{})
//	if err != nil {
//		return fmt.Errorf("naive Bayes baseline: %w", err)
//	}
//	pred := nb.Predict(testTexts) // compare with the model's, e.g. with package ddp/metrics
//
// For sentence-pair tasks, join the two texts with a space: the model is a
// bag of words, so the pair boundary carries no information.
//
// # The model
//
// Fit counts, for each class c and each word w of the vocabulary V (every
// word of the training texts), how often w occurs in the texts of class c.
// Then
//
//	log P(c)     = log(n_c) - log(n)                      (class_log_prior_)
//	log P(w | c) = log(count(w, c) + alpha) - log(total(c) + alpha*|V|)
//	score(t, c)  = log P(c) + sum over words w of t of log P(w | c)
//
// where n_c is the number of training texts of class c and total(c) the
// number of words in them. Words of t outside V are ignored, as
// CountVectorizer's transform drops them. Predict picks the class with the
// highest score, the lowest class id among equal scores (numpy's argmax);
// LogProba normalises the scores into log posterior probabilities.
//
// Everything is deterministic: the vocabulary is sorted and scores add up
// the words in vocabulary order, so no result depends on map iteration.
//
// Note [Word characters]: a word is a run of two or more word characters of
// the lower-cased text, CountVectorizer's token_pattern r"(?u)\b\w\w+\b".
// Python's \w on str patterns is Unicode-aware: it matches "_" and every
// character c with c.isalnum(), which is exactly the general categories L*
// (letters) and N* (Nd, Nl, No: digits, but also "²", "½", "Ⅻ", "①"). Go's
// regexp \w is ASCII-only, so isWordRune uses unicode.IsLetter,
// unicode.IsNumber and "_". Combining marks (Mn, Mc, Me) are not word
// characters in Python, so they split words: decomposed "nai\u0308ve"
// gives "nai" and "ve", and Devanagari "नमस्ते" gives "नमस" (the vowel
// signs are marks). Invalid UTF-8 bytes, which Python would never see in a
// str, separate words like U+FFFD. gen_reference.py checks the rule over
// every code point before writing the fixture; Go's unicode tables
// (Unicode 15.0.0) agree with Python 3.11's (14.0.0) on every character
// 14.0 assigns.
//
// Note [Lower-casing]: Python's str.lower() is Unicode's simple lower-case
// mapping, which unicode.ToLower implements, with two exceptions that
// change words. "İ" (U+0130) becomes "i" followed by the combining dot
// U+0307, which ends the word: "KİTAP" gives "ki" and "tap". A capital
// sigma becomes final "ς" in Unicode's Final_Sigma context (a cased letter
// before it and none after it, skipping case-ignorable characters such as
// apostrophes and marks) and "σ" elsewhere: "ΟΔΟΣ" gives "οδος" but
// "ΑΣ'ΑΑ" gives "ασ" and "αα". No locale or language rule applies.
//
// Note [Classes without examples]: Fit accepts a class without training
// texts, as MultinomialNB.partial_fit(classes=...) does. Its log prior is
// log(0) = -Inf, its word probabilities are the smoothed uniform
// 1/|V|, so every score of it is -Inf: it is never predicted (some other
// class has examples and a finite score) and its LogProba is -Inf. No NaN
// can arise, since alpha > 0 keeps every log P(w | c) finite.
package baseline
