package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode/utf8"
)

// cleanMessage turns a raw mail into classifier text: the decoded Subject,
// a blank line, then the text of the body (text/plain parts preferred over
// text/html, quoted-printable and base64 decoded, HTML tags dropped), with
// white space collapsed. Headers other than Subject are dropped.
func cleanMessage(raw string) string {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	if strings.HasPrefix(raw, "From ") { // mbox separator line, not a header
		if i := strings.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return collapse(fallbackBody(raw))
	}
	subject := toUTF8([]byte(decodeHeader(msg.Header.Get("Subject"))))
	body := partText(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	return strings.TrimSpace(collapse(subject) + "\n\n" + collapse(body))
}

// fallbackBody returns what follows the first blank line, or everything.
func fallbackBody(raw string) string {
	if _, body, ok := strings.Cut(raw, "\n\n"); ok {
		return body
	}
	return raw
}

var wordDecoder = mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes RFC 2047 encoded words, keeping the raw header if
// it does not decode.
func decodeHeader(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// charsetReader passes any charset through; toUTF8 repairs the bytes later.
func charsetReader(_ string, r io.Reader) (io.Reader, error) { return r, nil }

// partText returns the text of a MIME part with header h and body r.
// Multiparts recurse (to a depth of 5): a multipart/alternative yields its
// plain part if it has one, others the text of all their text parts.
func partText(h textproto.MIMEHeader, r io.Reader, depth int) string {
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ctype = "text/plain"
	}
	if strings.HasPrefix(ctype, "multipart/") && params["boundary"] != "" && depth < 5 {
		return multipartText(ctype, multipart.NewReader(r, params["boundary"]), depth)
	}
	if !strings.HasPrefix(ctype, "text/") {
		return "" // attachments, images
	}
	text := toUTF8(decodeBody(h.Get("Content-Transfer-Encoding"), r))
	if ctype == "text/html" {
		text = stripHTML(text)
	}
	return text
}

// multipartText joins the text of the parts of a multipart.
func multipartText(ctype string, mr *multipart.Reader, depth int) string {
	var plain, other []string
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		t := partText(p.Header, p, depth+1)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") || p.Header.Get("Content-Type") == "" {
			plain = append(plain, t)
		} else {
			other = append(other, t)
		}
	}
	if ctype == "multipart/alternative" && len(plain) > 0 {
		return strings.Join(plain, "\n")
	}
	return strings.Join(append(plain, other...), "\n")
}

// decodeBody undoes a Content-Transfer-Encoding; a body that does not
// decode is kept as far as it went.
func decodeBody(cte string, r io.Reader) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Lines{r: bufio.NewReader(r)})
	}
	b, _ := io.ReadAll(r)
	return b
}

// base64Lines drops the line breaks and anything after the padding that
// would stop a strict base64 decoder.
type base64Lines struct {
	r    *bufio.Reader
	done bool
}

func (b *base64Lines) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !b.done {
		c, err := b.r.ReadByte()
		if err != nil {
			return n, err
		}
		switch {
		case c == '=':
			p[n] = c
			n++
		case strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", c) >= 0:
			p[n] = c
			n++
		case c == '-': // a MIME boundary follows a sloppy part
			b.done = true
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// toUTF8 returns b as UTF-8, reading invalid input as Latin-1 (the usual
// charset of these mails).
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

var (
	htmlDrop = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>|<!--.*?-->`)
	htmlTag  = regexp.MustCompile(`(?s)<[^>]*>`)
)

// stripHTML drops tags, scripts, styles and comments, and unescapes
// entities: roughly, and good enough for a classifier.
func stripHTML(s string) string {
	s = htmlDrop.ReplaceAllString(s, " ")
	s = htmlTag.ReplaceAllString(s, " ")
	return html.UnescapeString(s)
}

// collapse turns every run of white space into one space.
func collapse(s string) string {
	var b bytes.Buffer
	for _, f := range strings.Fields(s) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	return b.String()
}
